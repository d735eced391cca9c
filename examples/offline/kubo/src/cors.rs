//! Who may call the RPC API, decided the way kubo decides it. Three layers, outermost first:
//! - rs/cors v1.11.1 `cors.go` (`Handler`, `handlePreflight`, `handleActualRequest`): answers every
//!   preflight itself with 204 and adds CORS headers to actual requests from allowed origins;
//! - go-ipfs-cmds `http/handler.go` (`ServeHTTP`): the method check, then `allowOrigin`,
//!   `allowReferer`, `allowUserAgent` from `http/config.go` (403 on any failure);
//! - kubo `core/corehttp/commands.go` (`commandsOption`): the options both are built from, once, at
//!   daemon start, from `API.HTTPHeaders`.
//!
//! go-ipfs-cmds v0.15.0 (kubo v0.39.0) and v0.16.1 (kubo v0.42.0) do not differ here.

use serde_json::Value;

use crate::http::{Request, Response};

const ACAO: &str = "Access-Control-Allow-Origin";
const ACAM: &str = "Access-Control-Allow-Methods";
const ACAC: &str = "Access-Control-Allow-Credentials";

/// kubo core/corehttp/commands.go defaultLocalhostOrigins (`<port>` is the API listener's port).
const LOCALHOST_ORIGINS: [&str; 6] = [
    "http://127.0.0.1:<port>",
    "https://127.0.0.1:<port>",
    "http://[::1]:<port>",
    "https://[::1]:<port>",
    "http://localhost:<port>",
    "https://localhost:<port>",
];

/// kubo core/corehttp/commands.go companionBrowserExtensionOrigins.
const COMPANION_ORIGINS: [&str; 2] = [
    "chrome-extension://nibjojkomfdiaoajekhjakgkdhaomnch",
    "chrome-extension://hjoieblefckbooibpepigmacodalfndh",
];

/// kubo core/corehttp/commands.go: `cfg.AddAllowedHeaders(...)`, the only request headers a preflight
/// may ask for. `API.HTTPHeaders.Access-Control-Allow-Headers` does not change this list.
const PREFLIGHT_HEADERS: [&str; 4] = ["Origin", "Accept", "Content-Type", "X-Requested-With"];

/// The RPC access policy, built once at daemon start.
#[derive(Debug, Clone)]
pub struct Policy {
    /// cmds ServerConfig AllowedOrigins after addCORSDefaults + patchCORSVars (exact strings).
    origins: Vec<String>,
    /// rs/cors AllowedMethods.
    methods: Vec<String>,
    credentials: bool,
    /// cmds ServerConfig.Headers: written on answers that reach a command.
    headers: Vec<(String, Vec<String>)>,
}

/// What the access layers decided for one request.
#[derive(Debug)]
pub enum Gate {
    /// Answered here (preflight, OPTIONS, 405, 403).
    Respond(Response),
    /// Goes on to the command; `cors` headers go on whatever it answers.
    Proceed { cors: Vec<(String, String)> },
}

/// Go's http.CanonicalHeaderKey.
pub fn canonical_header_key(k: &str) -> String {
    let mut out = String::with_capacity(k.len());
    let mut upper = true;
    for c in k.chars() {
        if upper {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        upper = c == '-';
    }
    out
}

fn strings(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::Array(a) => Some(
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect(),
        ),
        Value::Null => None,
        _ => Some(Vec::new()),
    }
}

impl Policy {
    /// kubo core/corehttp/commands.go commandsOption: addHeadersFromConfig, addCORSFromEnv,
    /// addCORSDefaults, patchCORSVars, in that order.
    pub fn from_config(
        cfg: &Value,
        api_port: u16,
        version: &str,
        api_origin_env: Option<&str>,
    ) -> Policy {
        let empty = serde_json::Map::new();
        let hh = cfg
            .pointer("/API/HTTPHeaders")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let mut origins = Vec::new();
        let mut methods = vec!["POST".to_string()];
        let mut credentials = false;
        // addHeadersFromConfig: looked up by the exact key (a map lookup, not canonicalised).
        if let Some(acao) = hh.get(ACAO).and_then(strings) {
            origins = acao;
        }
        if let Some(acam) = hh.get(ACAM).and_then(strings) {
            methods = acam;
        }
        for v in hh.get(ACAC).and_then(strings).unwrap_or_default() {
            credentials = v.to_lowercase() == "true";
        }
        let mut headers: Vec<(String, Vec<String>)> = Vec::new();
        for (k, v) in hh {
            let k = canonical_header_key(k);
            if k == ACAO || k == ACAM || k == ACAC {
                continue; // handled by the CORS library (or, in another case, ignored)
            }
            let vals = strings(v).unwrap_or_default();
            headers.retain(|(h, _)| *h != k);
            headers.push((k, vals));
        }
        headers.retain(|(h, _)| h != "Server");
        headers.push(("Server".into(), vec![format!("kubo/{version}")]));
        // addCORSFromEnv
        if let Some(o) = api_origin_env.filter(|o| !o.is_empty()) {
            origins.push(o.to_string());
        }
        // addCORSDefaults
        origins.extend(LOCALHOST_ORIGINS.iter().map(|s| s.to_string()));
        origins.extend(COMPANION_ORIGINS.iter().map(|s| s.to_string()));
        if methods.is_empty() {
            methods = vec!["GET".into(), "POST".into(), "PUT".into()];
        }
        // patchCORSVars: every origin, configured ones included.
        let port = api_port.to_string();
        for o in &mut origins {
            *o = o.replace("<port>", &port);
        }
        Policy {
            origins,
            methods,
            credentials,
            headers,
        }
    }

    /// Headers a command's answer carries (cmds handler: "set user's headers first").
    pub fn user_headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers
            .iter()
            .flat_map(|(k, vs)| vs.iter().map(move |v| (k.as_str(), v.as_str())))
    }

    /// rs/cors isOriginAllowed: case-insensitive, `*` allows all, one `*` inside is a wildcard.
    fn cors_origin_allowed(&self, origin: &str) -> (bool, bool) {
        if self.origins.iter().any(|o| o == "*") {
            return (true, true);
        }
        let origin = origin.to_lowercase();
        let ok = self.origins.iter().any(|o| {
            let o = o.to_lowercase();
            match o.find('*') {
                Some(i) => {
                    let (pre, suf) = (&o[..i], &o[i + 1..]);
                    origin.len() >= pre.len() + suf.len()
                        && origin.starts_with(pre)
                        && origin.ends_with(suf)
                }
                None => o == origin,
            }
        });
        (ok, false)
    }

    /// rs/cors isMethodAllowed.
    fn cors_method_allowed(&self, method: &str) -> bool {
        !self.methods.is_empty()
            && (method == "OPTIONS" || self.methods.iter().any(|m| m == method))
    }

    /// go-ipfs-cmds http/config.go allowOrigin / allowReferer: exact match or `*`.
    fn cmds_origin_allowed(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o == "*" || o == origin)
    }

    pub fn gate(&self, req: &Request) -> Gate {
        let origin = req.header("Origin").unwrap_or("");
        let acrm = req.header("Access-Control-Request-Method").unwrap_or("");
        if req.method == "OPTIONS" && !acrm.is_empty() {
            return Gate::Respond(self.preflight(req, origin, acrm));
        }
        // rs/cors handleActualRequest.
        let mut cors: Vec<(String, String)> = vec![("Vary".into(), "Origin".into())];
        let (allowed, all) = self.cors_origin_allowed(origin);
        if !origin.is_empty() && allowed && self.cors_method_allowed(&req.method) {
            let acao = if all { "*" } else { origin };
            cors.push((ACAO.into(), acao.into()));
            if self.credentials {
                cors.push((ACAC.into(), "true".into()));
            }
        }
        let with = |mut r: Response, cors: &[(String, String)]| {
            for (k, v) in cors {
                r = r.with_header(k, v);
            }
            r
        };
        // go-ipfs-cmds handler.go ServeHTTP: the method first (AllowGet is false in kubo's RPC).
        match req.method.as_str() {
            "OPTIONS" => {
                return Gate::Respond(with(
                    Response::new(204).with_header("Allow", "OPTIONS, POST"),
                    &cors,
                ));
            }
            "POST" => {}
            _ => {
                return Gate::Respond(with(
                    go_http_error(405, "405 - Method Not Allowed")
                        .with_header("Allow", "OPTIONS, POST"),
                    &cors,
                ));
            }
        }
        if !self.allow_origin(req) || !self.allow_referer(req) || !allow_user_agent(req) {
            return Gate::Respond(with(go_http_error(403, "403 - Forbidden"), &cors));
        }
        Gate::Proceed { cors }
    }

    /// rs/cors handlePreflight, then `w.WriteHeader(204)` (OptionsPassthrough is false).
    fn preflight(&self, req: &Request, origin: &str, acrm: &str) -> Response {
        let mut r = Response::new(204).with_header(
            "Vary",
            "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
        );
        let (allowed, all) = self.cors_origin_allowed(origin);
        if origin.is_empty() || !allowed || !self.cors_method_allowed(acrm) {
            return r;
        }
        let acrh: Vec<&str> = req
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("Access-Control-Request-Headers"))
            .map(|(_, v)| v.as_str())
            .collect();
        if !acrh.is_empty() && !preflight_headers_accepted(&acrh) {
            return r;
        }
        r = r.with_header(ACAO, if all { "*" } else { origin });
        r = r.with_header(ACAM, acrm);
        if acrh.first().is_some_and(|h| !h.is_empty()) {
            for h in &acrh {
                r = r.with_header("Access-Control-Allow-Headers", h);
            }
        }
        if self.credentials {
            r = r.with_header(ACAC, "true");
        }
        r
    }

    fn allow_origin(&self, req: &Request) -> bool {
        let origin = req.header("Origin").unwrap_or("");
        origin.is_empty() || self.cmds_origin_allowed(origin)
    }

    fn allow_referer(&self, req: &Request) -> bool {
        let referer = req.header("Referer").unwrap_or("");
        if referer.is_empty() {
            return true;
        }
        match referer_origin(referer) {
            Some(o) => self.cmds_origin_allowed(&o),
            None => false,
        }
    }
}

/// go-ipfs-cmds http/config.go allowUserAgent (the request is a POST here).
fn allow_user_agent(req: &Request) -> bool {
    let origin = req.header("Origin").unwrap_or("");
    let referer = req.header("Referer").unwrap_or("");
    if !origin.is_empty() || !referer.is_empty() {
        return true;
    }
    let ua = req.header("User-Agent").unwrap_or("");
    ua.contains("Electron") || !ua.starts_with("Mozilla")
}

/// `u.Scheme + "://" + u.Host` of Go's url.Parse (scheme lowercased; no authority → empty host).
fn referer_origin(referer: &str) -> Option<String> {
    if referer.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return None; // url.Parse: invalid control character in URL
    }
    let (scheme, rest) = match referer.split_once(':') {
        Some((s, r))
            if s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            (s.to_ascii_lowercase(), r)
        }
        Some(("", _)) => return None, // "missing protocol scheme"
        _ => (String::new(), referer),
    };
    let host = match rest.strip_prefix("//") {
        Some(r) => {
            let auth = r.split(['/', '?', '#']).next().unwrap_or("");
            auth.rsplit_once('@').map_or(auth, |(_, h)| h).to_string()
        }
        None => String::new(),
    };
    Some(format!("{scheme}://{host}"))
}

/// rs/cors internal/sortedset.go SortedSet.Accepts over the lowercased fixed list: every name a
/// member, names sorted and unique, at most one byte of optional whitespace around each.
fn preflight_headers_accepted(values: &[&str]) -> bool {
    let mut set: Vec<String> = PREFLIGHT_HEADERS.iter().map(|h| h.to_lowercase()).collect();
    set.sort();
    let max_len = 1 + set.iter().map(String::len).max().unwrap_or(0) + 1 + 1;
    let mut last: Option<usize> = None;
    let mut empty = 0;
    for v in values {
        let mut s: &str = v;
        loop {
            let end = s.len().min(max_len);
            let end = (0..=end)
                .rev()
                .find(|i| s.is_char_boundary(*i))
                .unwrap_or(0);
            let (name, rest, comma) = match s[..end].find(',') {
                Some(i) => (&s[..i], &s[i + 1..], true),
                None => (s, "", false),
            };
            let Some(name) = trim_ows(name) else {
                return false;
            };
            if name.is_empty() {
                empty += 1;
                if empty > 16 {
                    return false;
                }
            } else {
                let Some(pos) = set.iter().position(|m| m == name) else {
                    return false;
                };
                if last.is_some_and(|l| pos <= l) {
                    return false;
                }
                last = Some(pos);
            }
            if !comma {
                break;
            }
            s = rest;
        }
    }
    true
}

fn trim_ows(s: &str) -> Option<&str> {
    let is_ows = |c: char| c == ' ' || c == '\t';
    let t = s.trim_end_matches(is_ows);
    if s.len() - t.len() > 1 {
        return None;
    }
    let u = t.trim_start_matches(is_ows);
    if t.len() - u.len() > 1 {
        return None;
    }
    Some(u)
}

/// Go's http.Error: text/plain, nosniff, the message and a newline.
pub fn go_http_error(status: u16, msg: &str) -> Response {
    Response::text(status, format!("{msg}\n")).with_header("X-Content-Type-Options", "nosniff")
}
