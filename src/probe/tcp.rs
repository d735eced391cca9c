//! TCP probe: the port accepts a connection.

use std::net::SocketAddr;

pub(super) async fn check(addr: SocketAddr) -> Result<(), String> {
    tokio::net::TcpStream::connect(addr)
        .await
        .map(|_| ())
        .map_err(|e| format!("tcp {addr}: {e}"))
}
