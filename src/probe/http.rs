//! HTTP probe: any method (kubo's RPC API answers only POST); 2xx or 3xx passes.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::TokioIo;

pub(super) async fn check(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &BTreeMap<String, String>,
) -> Result<(), String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("{method} http://{addr}{path}: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("{method} http://{addr}{path}: {e}"))?;
    let conn = tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string())
        .header("user-agent", "pinshare-dev-probe");
    if method != "GET" && method != "HEAD" {
        req = req.header("content-length", "0");
    }
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let req = req
        .body(Empty::<bytes::Bytes>::new())
        .map_err(|e| format!("{method} {path}: {e}"))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("{method} http://{addr}{path}: {e}"))?;
    let status = resp.status();
    // Drain so the connection closes cleanly.
    let _ = resp.into_body().collect().await;
    conn.abort();
    if status.is_success() || status.is_redirection() {
        Ok(())
    } else {
        Err(format!(
            "{method} http://{addr}{path}: HTTP {}",
            status.as_u16()
        ))
    }
}
