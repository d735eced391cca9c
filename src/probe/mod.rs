//! Probes run by the tool: one enum ([`crate::spec::Check`]), one small file per kind. Readiness polls fast at
//! first (tens of milliseconds) and backs off to the probe's period, until its start timeout.

pub(crate) mod ready;

mod exec;
mod http;
mod log;
mod tcp;

use std::net::SocketAddr;
use std::time::Duration;

// tokio's clock (the system's, unless paused): start timeouts are then tested in virtual time.
use tokio::time::Instant;

use crate::engine::Engine;
use crate::spec::{Check, Probe};

/// Where a probe reaches a container port from the host.
pub type PortResolver<'a> = &'a (dyn Fn(u16) -> Option<SocketAddr> + Send + Sync);

/// One attempt. `Err` carries a short reason ("connection refused", "HTTP 503").
pub async fn check_once(
    engine: &dyn Engine,
    container: &str,
    check: &Check,
    resolve: PortResolver<'_>,
    timeout: Duration,
) -> Result<(), String> {
    let attempt = async {
        match check {
            Check::Http {
                port,
                path,
                method,
                headers,
            } => {
                let addr = resolve(*port).ok_or_else(|| format!("container port {port} is neither published nor reachable on the project network"))?;
                http::check(addr, method, path, headers).await
            }
            Check::Tcp { port } => {
                let addr = resolve(*port).ok_or_else(|| format!("container port {port} is neither published nor reachable on the project network"))?;
                tcp::check(addr).await
            }
            Check::Exec { argv } => exec::check(engine, container, argv).await,
            Check::Log { pattern } => log::check(engine, container, pattern).await,
        }
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
    }
}

/// Attempts made 10 ms apart before the delay starts doubling: kubo is ready some 50 ms after its start, and a
/// readiness probe is a local call, so the first quarter second is polled densely.
const FAST_ATTEMPTS: u32 = 20;

/// Delay before attempt `n` (0-based): 10 ms for the first [`FAST_ATTEMPTS`], then doubling up to `period`.
pub fn backoff(n: u32, period: Duration) -> Duration {
    let doublings = n.saturating_sub(FAST_ATTEMPTS - 1).min(16);
    let ms = 10u64.saturating_mul(1u64 << doublings);
    Duration::from_millis(ms).min(period)
}

/// How a readiness wait ended badly.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    /// Not ready within the start timeout.
    #[error("not ready after {waited_ms} ms (last probe: {last})")]
    Timeout {
        /// How long we waited.
        waited_ms: u128,
        /// The last failure.
        last: String,
    },
    /// The container stopped.
    #[error("exited with code {0} before it was ready")]
    Exited(i64),
}

/// Polls until the probe passes; fails early when the container exits. Returns the time it took. Each failed
/// attempt is told to `missed` (time since the start, the failure).
pub async fn wait_ready(
    engine: &dyn Engine,
    container: &str,
    probe: &Probe,
    resolve: PortResolver<'_>,
    missed: &mut (dyn FnMut(Duration, &str) + Send),
) -> Result<Duration, NotReady> {
    let start = Instant::now();
    let exited = engine.wait_container(container);
    tokio::pin!(exited);
    let mut n = 0;
    loop {
        let last = match check_once(engine, container, &probe.check, resolve, probe.timeout).await {
            Ok(()) => return Ok(start.elapsed()),
            Err(e) => e,
        };
        missed(start.elapsed(), &last);
        if start.elapsed() >= probe.start_timeout {
            return Err(NotReady::Timeout {
                waited_ms: start.elapsed().as_millis(),
                last,
            });
        }
        let delay = backoff(n, probe.period);
        n += 1;
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            code = &mut exited => {
                return Err(NotReady::Exited(code.unwrap_or(-1)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_starts_fast_and_caps_at_the_period() {
        let p = Duration::from_secs(1);
        assert_eq!(backoff(0, p), Duration::from_millis(10));
        assert_eq!(backoff(FAST_ATTEMPTS - 1, p), Duration::from_millis(10));
        assert_eq!(backoff(FAST_ATTEMPTS, p), Duration::from_millis(20));
        assert_eq!(backoff(FAST_ATTEMPTS + 2, p), Duration::from_millis(80));
        assert_eq!(backoff(FAST_ATTEMPTS + 10, p), p);
        assert_eq!(backoff(60, p), p);
        // A short period caps even the fast attempts.
        assert_eq!(
            backoff(0, Duration::from_millis(5)),
            Duration::from_millis(5)
        );
    }

    #[tokio::test]
    async fn http_probe_passes_on_2xx_and_fails_on_405() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = listener.accept().await else {
                    return;
                };
                let mut buf = [0u8; 1024];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]);
                let status = if req.starts_with("POST /api/v0/id") {
                    "200 OK"
                } else {
                    "405 Method Not Allowed"
                };
                let _ = s
                    .write_all(
                        format!(
                            "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        )
                        .as_bytes(),
                    )
                    .await;
            }
        });
        let h = std::collections::BTreeMap::new();
        assert_eq!(http::check(addr, "POST", "/api/v0/id", &h).await, Ok(()));
        let e = http::check(addr, "GET", "/api/v0/id", &h)
            .await
            .expect_err("405 fails");
        assert!(e.contains("405"), "{e}");
        assert_eq!(tcp::check(addr).await, Ok(()));
    }

    #[tokio::test]
    async fn tcp_probe_fails_when_a_proxy_accepts_and_hangs_up() {
        // What the engine's userland proxy does while nothing listens in the container yet.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                drop(s);
            }
        });
        let e = tcp::check(addr).await.expect_err("closed at once");
        assert!(e.contains("accepted, then closed"), "{e}");
    }

    #[tokio::test]
    async fn tcp_probe_fails_on_a_closed_port() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        drop(l);
        assert!(tcp::check(addr).await.is_err());
    }
}
