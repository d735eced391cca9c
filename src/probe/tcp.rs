//! TCP probe: the port accepts a connection, and keeps it.
//!
//! Through a published port the engine's userland proxy accepts at once, whether or not anything listens in the
//! container yet; when nothing does, it closes the connection right after. So a connection only counts when it
//! is still open (or has sent something) a moment later.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::AsyncReadExt;

/// How long an accepted connection must stay open to count.
const HOLD: Duration = Duration::from_millis(100);

pub(super) async fn check(addr: SocketAddr) -> Result<(), String> {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("tcp {addr}: {e}"))?;
    let mut byte = [0u8; 1];
    match tokio::time::timeout(HOLD, stream.read(&mut byte)).await {
        // Still open and quiet (most servers wait for the client), or a greeting: someone is listening.
        Err(_) | Ok(Ok(1..)) => Ok(()),
        Ok(Ok(0)) => Err(format!(
            "tcp {addr}: accepted, then closed (nothing listening behind the published port yet)"
        )),
        Ok(Err(e)) => Err(format!("tcp {addr}: {e}")),
    }
}
