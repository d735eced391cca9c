//! A one-request HTTP/1.1 client on hyper, for the start check (Go's `http.Post`, which has no timeout) and
//! the double's `health` subcommand.

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

/// The status of an answer (its body is read and dropped, as the real callers do).
pub struct Answer {
    pub status: u16,
}

/// Sends `method url` with an empty body. Errors read like Go's `*url.Error`:
/// `Post "http://ipfs:5001/api/v0/version": dial tcp …: connect: connection refused`.
pub async fn request(method: &str, url: &str) -> Result<Answer, String> {
    let go_method = {
        let mut m = method.to_lowercase();
        if let Some(f) = m.get_mut(..1) {
            f.make_ascii_uppercase();
        }
        m
    };
    let fail = |e: String| format!("{go_method} \"{url}\": {e}");
    let uri: hyper::Uri = url.parse().map_err(|e| fail(format!("{e}")))?;
    if uri.scheme_str() != Some("http") {
        return Err(fail(format!(
            "unsupported protocol scheme \"{}\"",
            uri.scheme_str().unwrap_or("")
        )));
    }
    let host = uri
        .host()
        .ok_or_else(|| fail("no Host in request URL".into()))?;
    let port = uri.port_u16().unwrap_or(80);
    let addr = format!("{host}:{port}");
    let stream = tokio::net::TcpStream::connect(&addr).await.map_err(|e| {
        let what = if e.kind() == std::io::ErrorKind::Other || e.raw_os_error().is_none() {
            format!("dial tcp: lookup {host}: no such host")
        } else {
            format!(
                "dial tcp {addr}: connect: {}",
                standin_common::goerr::reason(&e)
            )
        };
        fail(what)
    })?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| fail(e.to_string()))?;
    tokio::spawn(conn);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, format!("{host}:{port}"))
        .header(hyper::header::USER_AGENT, "Go-http-client/1.1")
        .header(hyper::header::CONTENT_LENGTH, "0")
        .body(Empty::<Bytes>::new())
        .map_err(|e| fail(e.to_string()))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| fail(e.to_string()))?;
    let status = resp.status().as_u16();
    resp.into_body()
        .collect()
        .await
        .map_err(|e| fail(e.to_string()))?;
    Ok(Answer { status })
}
