//! The daemon's HTTP: a request and an answer as the commands see them (whole bodies, decoded
//! query), served by hyper on tokio the way Go's net/http serves kubo (keep-alive, canonical
//! header case, a Date on every answer), and the CLI's one-request hyper client.

use std::convert::Infallible;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::{TokioIo, TokioTimer};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use standin_common::goerr;

/// Largest request/response body accepted.
pub const MAX_BODY: usize = 1 << 30;

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path without the query string, percent-decoded.
    pub path: String,
    /// Decoded query parameters, in order.
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    /// A boolean query option the way go-ipfs-cmds parses it (missing -> default).
    pub fn bool_param(&self, name: &str, default: bool) -> Result<bool, String> {
        match self.param(name) {
            None => Ok(default),
            Some("") | Some("true") | Some("1") | Some("True") | Some("TRUE") | Some("t") => {
                Ok(true)
            }
            Some("false") | Some("0") | Some("False") | Some("FALSE") | Some("f") => Ok(false),
            Some(v) => Err(format!(
                "invalid value \"{v}\" for boolean option \"{name}\""
            )),
        }
    }
}

pub fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
    /// text/plain response (like Go's http.Error when `body` ends with '\n').
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Response::new(status)
            .with_header("Content-Type", "text/plain; charset=utf-8")
            .with_body(body.into().into_bytes())
    }
    pub fn json(status: u16, body: impl Into<String>) -> Self {
        Response::new(status)
            .with_header("Content-Type", "application/json")
            .with_body(body.into().into_bytes())
    }
    pub fn with_header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.to_string(), v.to_string()));
        self
    }
    pub fn with_body(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }
}

/// A query string's pairs, `+` as space (Go's url.ParseQuery).
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(q.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// A percent-decoded path or file name (`+` stays `+`).
pub fn percent_decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// Everything but RFC 3986 unreserved characters.
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn percent_encode(s: &str) -> String {
    utf8_percent_encode(s, NOT_UNRESERVED).to_string()
}

// ---------------------------------------------------------------- server

/// A command handler: runs on tokio's blocking pool (commands read and write the repo).
pub type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

/// Serves `listener` until the process ends, one task per connection.
pub async fn serve(listener: TcpListener, handler: Handler) {
    let listener = match listener
        .set_nonblocking(true)
        .and_then(|()| tokio::net::TcpListener::from_std(listener))
    {
        Ok(l) => l,
        Err(e) => {
            crate::sys::elog_line(&format!("Error: serving HTTP: {e}"));
            std::process::exit(1);
        }
    };
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let h = Arc::clone(&handler);
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| answer(req, Arc::clone(&h)));
            let _ = hyper::server::conn::http1::Builder::new()
                .title_case_headers(true)
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(60))
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

async fn answer(
    req: hyper::Request<Incoming>,
    handler: Handler,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes().to_vec(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return Ok(to_hyper(Response::text(
                413,
                "http: request body too large\n",
            )));
        }
        Err(e) => return Ok(to_hyper(Response::text(400, format!("{e}\n")))),
    };
    let req = Request {
        method: parts.method.to_string(),
        path: percent_decode(parts.uri.path()),
        query: parse_query(parts.uri.query().unwrap_or("")),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
                (k.as_str().to_string(), v)
            })
            .collect(),
        body,
    };
    let resp = tokio::task::spawn_blocking(move || handler(&req))
        .await
        .unwrap_or_else(|_| Response::text(500, "Internal Server Error\n"));
    Ok(to_hyper(resp))
}

fn to_hyper(resp: Response) -> hyper::Response<Full<Bytes>> {
    let mut out = hyper::Response::new(Full::new(Bytes::from(resp.body)));
    *out.status_mut() = hyper::StatusCode::from_u16(resp.status)
        .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = out.headers_mut();
    for (k, v) in &resp.headers {
        // hyper writes the length of the body it sends.
        if k.eq_ignore_ascii_case("Content-Length") {
            continue;
        }
        if let (Ok(k), Ok(v)) = (
            hyper::header::HeaderName::from_bytes(k.as_bytes()),
            hyper::header::HeaderValue::from_str(v),
        ) {
            headers.append(k, v);
        }
    }
    out
}

/// Accepts TCP connections and closes them immediately (stands in for a p2p port).
pub fn accept_and_close(listener: TcpListener) {
    for conn in listener.incoming() {
        match conn {
            Ok(s) => drop(s),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

// ---------------------------------------------------------------- client

#[derive(Debug, Clone)]
pub struct ClientResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl ClientResponse {
    #[cfg(test)]
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Splits `http://host[:port][/path]` into (host, port, path). Host keeps no brackets.
pub fn parse_http_url(url: &str) -> Result<(String, u16, String), String> {
    let uri: hyper::Uri = url.parse().map_err(|e| format!("parse {url:?}: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!(
            "unsupported URL {url:?} (only http:// is supported)"
        ));
    }
    let host = uri
        .host()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
        .filter(|h| !h.is_empty())
        .ok_or_else(|| format!("missing host in {url:?}"))?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    Ok((
        host.to_string(),
        uri.port_u16().unwrap_or(80),
        path.to_string(),
    ))
}

/// One HTTP/1.1 request, as kubo's CLI sends one command to the daemon. `timeout` bounds the
/// connect and the wait for the answer's head.
pub fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> Result<ClientResponse, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("{method} {url}: {e}"))?;
    rt.block_on(request_async(method, url, headers, body, timeout))
}

async fn connect(
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<tokio::net::TcpStream, String> {
    let addrs: Vec<_> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("dial tcp: lookup {host}: {}", lookup_reason(&e)))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("dial tcp: lookup {host}: no such host"));
    }
    let mut last_err = String::new();
    for a in &addrs {
        match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(a)).await {
            Ok(Ok(s)) => return Ok(s),
            Ok(Err(e)) => last_err = format!("dial tcp {a}: connect: {}", goerr::reason(&e)),
            Err(_) => last_err = format!("dial tcp {a}: i/o timeout"),
        }
    }
    Err(last_err)
}

async fn request_async(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> Result<ClientResponse, String> {
    let (host, port, path) = parse_http_url(url)?;
    let stream = connect(&host, port, timeout).await?;
    let _ = stream.set_nodelay(true);
    let err = |what: &str, e: &dyn std::fmt::Display| format!("{what} {url}: {e}");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| err("connect", &e))?;
    tokio::spawn(conn);
    let host_header = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, host_header);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("User-Agent"))
    {
        // go-ipfs-cmds http/client.go NewClient: kubo's CLI keeps this default (cmd/ipfs/kubo/start.go).
        req = req.header(hyper::header::USER_AGENT, "go-ipfs-cmds/http");
    }
    if !body.is_empty() || method == "POST" || method == "PUT" {
        req = req.header(hyper::header::CONTENT_LENGTH, body.len());
    }
    let req = req
        .body(Full::new(Bytes::copy_from_slice(body)))
        .map_err(|e| err("write", &e))?;
    let resp = tokio::time::timeout(timeout, sender.send_request(req))
        .await
        .map_err(|_| err("read", &"i/o timeout"))?
        .map_err(|e| err("read", &e))?;
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
            (k.as_str().to_string(), v)
        })
        .collect();
    let body = Limited::new(resp.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| err("read", &e))?
        .to_bytes()
        .to_vec();
    Ok(ClientResponse {
        status,
        headers,
        body,
    })
}

fn lookup_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    if s.contains("Name or service not known")
        || s.contains("No address associated")
        || s.contains("not known")
    {
        "no such host".to_string()
    } else {
        goerr::reason(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_parsing() {
        assert_eq!(
            parse_http_url("http://ipfs:5001").unwrap(),
            ("ipfs".into(), 5001, "/".into())
        );
        assert_eq!(
            parse_http_url("http://[::1]:5001/api/v0/id").unwrap(),
            ("::1".into(), 5001, "/api/v0/id".into())
        );
        assert_eq!(parse_http_url("http://example").unwrap().1, 80);
        assert!(parse_http_url("https://x").is_err());
    }

    #[test]
    fn percent_coding_round_trip() {
        assert_eq!(percent_encode("/ipfs/Qm a"), "%2Fipfs%2FQm%20a");
        assert_eq!(percent_decode("%2Fipfs%2FQm%20a"), "/ipfs/Qm a");
        assert_eq!(
            parse_query("a=b+c%21&d"),
            [("a".into(), "b c!".into()), ("d".into(), String::new())]
        );
    }

    /// A server on a thread of its own; its port.
    fn serve_on_loopback(handler: Handler) -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap()
                .block_on(serve(l, handler))
        });
        port
    }

    #[test]
    fn server_and_client_talk() {
        let port = serve_on_loopback(Arc::new(|req: &Request| {
            Response::text(
                200,
                format!(
                    "{} {} {:?} {}",
                    req.method,
                    req.path,
                    req.query,
                    req.body.len()
                ),
            )
        }));
        let big = vec![7u8; 3 << 20];
        let resp = request(
            "POST",
            &format!("http://127.0.0.1:{port}/up%20x?arg=%2Fipfs%2Fx&b=1+2"),
            &[("Expect", "100-continue")],
            &big,
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(
            resp.text(),
            format!(
                "POST /up x [(\"arg\", \"/ipfs/x\"), (\"b\", \"1 2\")] {}",
                3 << 20
            )
        );
    }

    // Go's net/http: header names go out in canonical case, and a HEAD answer has the GET
    // answer's head with no body.
    #[test]
    fn answers_carry_canonical_header_names_and_head_has_no_body() {
        use std::io::{Read, Write};
        let port = serve_on_loopback(Arc::new(|_: &Request| {
            Response::text(200, "hello\n").with_header("access-control-allow-origin", "*")
        }));
        for (method, body) in [("GET", "hello\n"), ("HEAD", "")] {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            write!(
                s,
                "{method} / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
            .unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
            assert!(
                out.contains("\r\nAccess-Control-Allow-Origin: *\r\n"),
                "{out}"
            );
            assert!(out.contains("\r\nContent-Length: 6\r\n"), "{out}");
            assert!(out.contains("\r\nDate: "), "{out}");
            assert!(out.ends_with(&format!("\r\n\r\n{body}")), "{out}");
        }
    }

    // go-ipfs-cmds http/client.go NewClient: the CLI says it is go-ipfs-cmds (the daemon's CORS
    // layer treats it as a program, not a browser).
    #[test]
    fn the_client_names_itself_as_kubos_cli_does() {
        let port = serve_on_loopback(Arc::new(|req: &Request| {
            Response::text(200, req.header("User-Agent").unwrap_or("").to_string())
        }));
        let resp = request(
            "POST",
            &format!("http://127.0.0.1:{port}/api/v0/id"),
            &[],
            b"",
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(resp.text(), "go-ipfs-cmds/http");
    }

    #[test]
    fn an_unreachable_daemon_is_a_dial_error() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let e = request(
            "POST",
            &format!("http://127.0.0.1:{port}/api/v0/id"),
            &[],
            b"",
            Duration::from_secs(5),
        )
        .unwrap_err();
        assert_eq!(
            e,
            format!("dial tcp 127.0.0.1:{port}: connect: connection refused")
        );
    }
}
