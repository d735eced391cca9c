//! A tiny blocking HTTP/1.1 server (thread per connection, `Connection: close`)
//! and client on std::net. Shared by both stand-ins (the app includes this file
//! with `#[path]`).

use standin_common::goerr;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// Largest request/response body accepted.
pub const MAX_BODY: usize = 1 << 30;
const MAX_LINE: usize = 16 * 1024;
const MAX_HEADERS: usize = 200;

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

pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Accepts connections forever, one thread per connection.
pub fn serve<F>(listener: TcpListener, handler: Arc<F>)
where
    F: Fn(&Request) -> Response + Send + Sync + 'static,
{
    for conn in listener.incoming() {
        match conn {
            Ok(stream) => {
                let h = Arc::clone(&handler);
                let _ = std::thread::Builder::new()
                    .name("http-conn".into())
                    .spawn(move || handle_conn(stream, &*h));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
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

fn handle_conn<F: Fn(&Request) -> Response>(stream: TcpStream, handler: &F) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(60)));
    let _ = stream.set_nodelay(true);
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::new(stream);
    let (resp, head) = match read_request(&mut reader, &mut writer) {
        Ok(Some(req)) => {
            let head = req.method == "HEAD";
            (handler(&req), head)
        }
        Ok(None) => return,
        Err(e) => (
            Response::text(400, format!("400 Bad Request: {e}\n")),
            false,
        ),
    };
    let _ = write_response(&mut writer, &resp, head);
    let _ = writer.flush();
    let _ = writer.shutdown(Shutdown::Write);
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Reads one CRLF/LF-terminated line without the terminator. Ok(None) on clean EOF.
fn read_line<R: BufRead>(r: &mut R) -> io::Result<Option<String>> {
    let mut buf = Vec::new();
    let n = r
        .by_ref()
        .take(MAX_LINE as u64)
        .read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        if n >= MAX_LINE {
            return Err(bad("line too long"));
        }
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "unexpected EOF",
        ));
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

fn read_headers<R: BufRead>(r: &mut R) -> io::Result<Vec<(String, String)>> {
    let mut headers = Vec::new();
    loop {
        let line = read_line(r)?.ok_or_else(|| bad("unexpected EOF in headers"))?;
        if line.is_empty() {
            return Ok(headers);
        }
        if headers.len() >= MAX_HEADERS {
            return Err(bad("too many headers"));
        }
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| bad(format!("malformed header line {line:?}")))?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
}

fn is_chunked(headers: &[(String, String)]) -> bool {
    find_header(headers, "Transfer-Encoding")
        .map(|v| v.to_ascii_lowercase().contains("chunked"))
        .unwrap_or(false)
}

fn content_length(headers: &[(String, String)]) -> io::Result<Option<usize>> {
    match find_header(headers, "Content-Length") {
        None => Ok(None),
        Some(v) => {
            let n: usize = v
                .trim()
                .parse()
                .map_err(|_| bad(format!("bad Content-Length {v:?}")))?;
            if n > MAX_BODY {
                return Err(bad("body too large"));
            }
            Ok(Some(n))
        }
    }
}

fn read_exact_vec<R: Read>(r: &mut R, n: usize) -> io::Result<Vec<u8>> {
    let mut body = Vec::with_capacity(n.min(16 << 20));
    r.by_ref().take(n as u64).read_to_end(&mut body)?;
    if body.len() != n {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("body ended after {} of {} bytes", body.len(), n),
        ));
    }
    Ok(body)
}

/// Decodes a chunked transfer-encoded body (trailers are read and dropped).
pub fn read_chunked<R: BufRead>(r: &mut R) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line = read_line(r)?.ok_or_else(|| bad("unexpected EOF in chunked body"))?;
        let size_str = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_str, 16)
            .map_err(|_| bad(format!("bad chunk size {size_str:?}")))?;
        if size == 0 {
            // trailers
            while let Some(l) = read_line(r)? {
                if l.is_empty() {
                    break;
                }
            }
            return Ok(out);
        }
        if out.len() + size > MAX_BODY {
            return Err(bad("body too large"));
        }
        let chunk = read_exact_vec(r, size)?;
        out.extend_from_slice(&chunk);
        let crlf = read_line(r)?;
        if crlf.as_deref() != Some("") {
            return Err(bad("missing CRLF after chunk"));
        }
    }
}

/// Reads one request. Sends `100 Continue` when the client asks for it.
pub fn read_request<R: BufRead, W: Write>(r: &mut R, w: &mut W) -> io::Result<Option<Request>> {
    let mut line = match read_line(r)? {
        Some(l) => l,
        None => return Ok(None),
    };
    // Tolerate a stray empty line before the request line (RFC 9112 2.2).
    if line.is_empty() {
        line = match read_line(r)? {
            Some(l) => l,
            None => return Ok(None),
        };
    }
    let mut parts = line.split_whitespace();
    let method = parts
        .next()
        .ok_or_else(|| bad("empty request line"))?
        .to_string();
    let target = parts
        .next()
        .ok_or_else(|| bad("missing request target"))?
        .to_string();
    let version = parts.next().unwrap_or("HTTP/1.0");
    if !version.starts_with("HTTP/1.") {
        return Err(bad(format!("unsupported protocol {version:?}")));
    }
    let headers = read_headers(r)?;
    let expects_continue = find_header(&headers, "Expect")
        .map(|v| v.eq_ignore_ascii_case("100-continue"))
        .unwrap_or(false);
    let body = if is_chunked(&headers) {
        if expects_continue {
            w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
            w.flush()?;
        }
        read_chunked(r)?
    } else if let Some(n) = content_length(&headers)? {
        if expects_continue && n > 0 {
            w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
            w.flush()?;
        }
        read_exact_vec(r, n)?
    } else {
        Vec::new()
    };
    // Absolute-form targets (proxies) are reduced to their path.
    let target = if let Some(rest) = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))
    {
        match rest.find('/') {
            Some(i) => rest[i..].to_string(),
            None => "/".to_string(),
        }
    } else {
        target
    };
    let (raw_path, raw_query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target.clone(), String::new()),
    };
    Ok(Some(Request {
        method,
        path: percent_decode(&raw_path, false),
        query: parse_query(&raw_query),
        headers,
        body,
    }))
}

pub fn write_response<W: Write>(w: &mut W, resp: &Response, head: bool) -> io::Result<()> {
    let mut out = Vec::with_capacity(256 + resp.body.len());
    out.extend_from_slice(
        format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status)).as_bytes(),
    );
    for (k, v) in &resp.headers {
        if k.eq_ignore_ascii_case("Content-Length") || k.eq_ignore_ascii_case("Connection") {
            continue;
        }
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            resp.body.len()
        )
        .as_bytes(),
    );
    if !head {
        out.extend_from_slice(&resp.body);
    }
    w.write_all(&out)
}

pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (percent_decode(k, true), percent_decode(v, true)),
            None => (percent_decode(kv, true), String::new()),
        })
        .collect()
}

pub fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &c in s.as_bytes() {
        if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~') {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

// ---------------------------------------------------------------- client

#[derive(Debug, Clone)]
pub struct ClientResponse {
    pub status: u16,
    #[allow(dead_code)]
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl ClientResponse {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Splits `http://host[:port][/path]` into (host, port, path). Host keeps no brackets.
pub fn parse_http_url(url: &str) -> Result<(String, u16, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("unsupported URL {url:?} (only http:// is supported)"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let (host, port) = if let Some(h) = authority.strip_prefix('[') {
        let (h, after) = h
            .split_once(']')
            .ok_or_else(|| format!("bad IPv6 host in {url:?}"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| format!("bad port in {url:?}"))?,
            None => 80,
        };
        (h.to_string(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (
                h.to_string(),
                p.parse().map_err(|_| format!("bad port in {url:?}"))?,
            ),
            None => (authority.to_string(), 80),
        }
    };
    if host.is_empty() {
        return Err(format!("missing host in {url:?}"));
    }
    Ok((host, port, path))
}

/// One blocking HTTP/1.1 request with `Connection: close`. `timeout` bounds the
/// connect and every single read/write.
pub fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> Result<ClientResponse, String> {
    let (host, port, path) = parse_http_url(url)?;
    let addrs: Vec<_> = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| format!("dial tcp: lookup {host}: {}", lookup_reason(&e)))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("dial tcp: lookup {host}: no such host"));
    }
    let mut last_err = String::new();
    let mut stream = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last_err = format!("dial tcp {a}: connect: {}", goerr::reason(&e)),
        }
    }
    let stream = stream.ok_or(last_err)?;
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    let _ = stream.set_nodelay(true);
    let host_header = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host_header}\r\n");
    let mut has_ua = false;
    for (k, v) in headers {
        if k.eq_ignore_ascii_case("User-Agent") {
            has_ua = true;
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !has_ua {
        head.push_str("User-Agent: pinshare-standin/0.1\r\n");
    }
    if !body.is_empty() || method == "POST" || method == "PUT" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("Connection: close\r\n\r\n");
    let io_err = |what: &str, e: io::Error| format!("{what} {url}: {}", goerr::reason(&e));
    let mut w = stream.try_clone().map_err(|e| io_err("connect", e))?;
    let mut msg = head.into_bytes();
    msg.extend_from_slice(body);
    w.write_all(&msg).map_err(|e| io_err("write", e))?;
    w.flush().map_err(|e| io_err("write", e))?;
    let mut r = BufReader::new(stream);
    loop {
        let line = read_line(&mut r)
            .map_err(|e| io_err("read", e))?
            .ok_or_else(|| {
                format!("read {url}: EOF (server closed the connection without a response)")
            })?;
        let mut parts = line.splitn(3, ' ');
        let _ver = parts.next();
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("malformed HTTP status line {line:?} from {url}"))?;
        let headers = read_headers(&mut r).map_err(|e| io_err("read", e))?;
        if (100..200).contains(&status) {
            continue;
        }
        let body = if method == "HEAD" || status == 204 || status == 304 {
            Vec::new()
        } else if is_chunked(&headers) {
            read_chunked(&mut r).map_err(|e| io_err("read", e))?
        } else if let Some(n) = content_length(&headers).map_err(|e| io_err("read", e))? {
            read_exact_vec(&mut r, n).map_err(|e| io_err("read", e))?
        } else {
            let mut b = Vec::new();
            r.read_to_end(&mut b).map_err(|e| io_err("read", e))?;
            b
        };
        return Ok(ClientResponse {
            status,
            headers,
            body,
        });
    }
}

fn lookup_reason(e: &io::Error) -> String {
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
    fn parses_request_with_body_and_query() {
        let raw = b"POST /api/v0/add?cid-version=1&arg=%2Fipfs%2Fx HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloEXTRA";
        let mut r = BufReader::new(&raw[..]);
        let mut w = Vec::new();
        let req = read_request(&mut r, &mut w).unwrap().unwrap();
        assert_eq!(req.method, "POST");
        assert_eq!(req.path, "/api/v0/add");
        assert_eq!(req.param("cid-version"), Some("1"));
        assert_eq!(req.param("arg"), Some("/ipfs/x"));
        assert_eq!(req.body, b"hello");
        assert!(w.is_empty());
    }

    #[test]
    fn parses_chunked_and_expect_continue() {
        let raw = b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n";
        let mut r = BufReader::new(&raw[..]);
        let mut w = Vec::new();
        let req = read_request(&mut r, &mut w).unwrap().unwrap();
        assert_eq!(req.body, b"hello world");
        assert_eq!(w, b"HTTP/1.1 100 Continue\r\n\r\n");
    }

    #[test]
    fn short_body_is_an_error() {
        let raw = b"POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc";
        let mut r = BufReader::new(&raw[..]);
        assert!(read_request(&mut r, &mut Vec::new()).is_err());
    }

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
        assert_eq!(percent_decode("%2Fipfs%2FQm%20a", false), "/ipfs/Qm a");
        assert_eq!(percent_decode("a+b%", true), "a b%");
    }

    #[test]
    fn server_and_client_talk() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            serve(
                l,
                Arc::new(|req: &Request| {
                    Response::text(
                        200,
                        format!("{} {} {}", req.method, req.path, req.body.len()),
                    )
                }),
            )
        });
        let big = vec![7u8; 3 << 20];
        let resp = request(
            "POST",
            &format!("http://127.0.0.1:{port}/up"),
            &[("Expect", "100-continue")],
            &big,
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(resp.text(), format!("POST /up {}", 3 << 20));
    }
}
