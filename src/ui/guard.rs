//! Which requests the dashboard takes. A page on another site can make a browser send requests to loopback:
//! through a name that resolves to 127.0.0.1 (DNS rebinding), which the `Host` check refuses, or straight to
//! 127.0.0.1 as a cross-site request, which cannot read the answers (the same-origin policy) and cannot change
//! anything without the token (only the dashboard's own page carries it) and a same-origin `Origin`.

use axum::http::{HeaderMap, Method, StatusCode, header};

/// The header carrying the run's token on requests that change something.
pub const TOKEN_HEADER: &str = "x-pinshare-token";

/// The checks of one run's dashboard.
#[derive(Debug, Clone)]
pub struct Guard {
    port: u16,
    token: String,
}

/// Why a request is refused: its status and a line saying why.
pub type Refusal = (StatusCode, &'static str);

impl Guard {
    /// The checks for a dashboard on `port` with `token`.
    pub fn new(port: u16, token: String) -> Self {
        Guard { port, token }
    }

    /// The run's token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Takes a request or says why not.
    pub fn check(&self, method: &Method, headers: &HeaderMap) -> Result<(), Refusal> {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        if !host.is_some_and(|h| self.ours(h, "")) {
            return Err((
                StatusCode::MISDIRECTED_REQUEST,
                "this dashboard answers only to 127.0.0.1 or localhost on its own port\n",
            ));
        }
        if method == Method::GET || method == Method::HEAD {
            return Ok(());
        }
        let origin = headers.get(header::ORIGIN).and_then(|h| h.to_str().ok());
        if !origin.is_some_and(|o| self.ours(o, "http://")) {
            return Err((StatusCode::FORBIDDEN, "cross-origin request refused\n"));
        }
        let token = headers
            .get(TOKEN_HEADER)
            .map(axum::http::HeaderValue::as_bytes);
        if !token.is_some_and(|t| same(t, self.token.as_bytes())) {
            return Err((StatusCode::FORBIDDEN, "missing or wrong token\n"));
        }
        Ok(())
    }

    /// Whether `value` is `{scheme}127.0.0.1:PORT` or `{scheme}localhost:PORT`.
    fn ours(&self, value: &str, scheme: &str) -> bool {
        let Some(rest) = value.strip_prefix(scheme) else {
            return false;
        };
        let port = self.port.to_string();
        ["127.0.0.1", "localhost"]
            .iter()
            .any(|h| rest.strip_prefix(h).and_then(|r| r.strip_prefix(':')) == Some(&port))
    }
}

/// Equal, in a time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A fresh random token (128 bits, hex).
pub fn new_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("header value"));
        }
        h
    }

    #[test]
    fn host_must_be_loopback_on_our_port() {
        let g = Guard::new(7730, "t0k".into());
        for ok in ["127.0.0.1:7730", "localhost:7730"] {
            assert!(
                g.check(&Method::GET, &headers(&[("host", ok)])).is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "evil.example:7730",
            "127.0.0.1:7731",
            "127.0.0.1",
            "localhost.evil:7730",
            "127.0.0.1:77300",
        ] {
            let r = g.check(&Method::GET, &headers(&[("host", bad)]));
            assert_eq!(
                r.map_err(|e| e.0),
                Err(StatusCode::MISDIRECTED_REQUEST),
                "{bad}"
            );
        }
        assert!(g.check(&Method::GET, &HeaderMap::new()).is_err(), "no Host");
    }

    #[test]
    fn a_change_needs_the_token_and_our_origin() {
        let g = Guard::new(7730, "t0k".into());
        let host = ("host", "127.0.0.1:7730");
        let post =
            |h: &[(&'static str, &str)]| g.check(&Method::POST, &headers(h)).map_err(|e| e.0);
        assert!(
            post(&[
                host,
                ("origin", "http://127.0.0.1:7730"),
                (TOKEN_HEADER, "t0k")
            ])
            .is_ok()
        );
        assert!(
            post(&[
                host,
                ("origin", "http://localhost:7730"),
                (TOKEN_HEADER, "t0k")
            ])
            .is_ok()
        );
        let forbidden = Err(StatusCode::FORBIDDEN);
        assert_eq!(
            post(&[host, ("origin", "http://127.0.0.1:7730")]),
            forbidden
        );
        assert_eq!(
            post(&[
                host,
                ("origin", "http://127.0.0.1:7730"),
                (TOKEN_HEADER, "t0j")
            ]),
            forbidden
        );
        assert_eq!(
            post(&[
                host,
                ("origin", "http://evil.example"),
                (TOKEN_HEADER, "t0k")
            ]),
            forbidden
        );
        assert_eq!(post(&[host, (TOKEN_HEADER, "t0k")]), forbidden, "no Origin");
        assert_eq!(
            post(&[host, ("origin", "null"), (TOKEN_HEADER, "t0k")]),
            forbidden
        );
    }

    #[test]
    fn tokens_differ() {
        let (a, b) = (new_token().expect("token"), new_token().expect("token"));
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
