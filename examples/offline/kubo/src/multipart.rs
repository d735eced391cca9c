//! multipart/form-data: parsing (Kubo's /api/v0/add) and building (clients).
//! The app includes this file with `#[path]`.

#[derive(Debug, Clone)]
pub struct Part {
    pub name: Option<String>,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

/// Extracts the boundary from a `multipart/...; boundary=...` Content-Type.
pub fn boundary_from_content_type(ct: &str) -> Option<String> {
    let mut it = ct.split(';');
    let media = it.next()?.trim().to_ascii_lowercase();
    if !media.starts_with("multipart/") {
        return None;
    }
    let params = header_params(&ct[ct.find(';').unwrap_or(ct.len())..]);
    params
        .into_iter()
        .find(|(k, _)| k == "boundary")
        .map(|(_, v)| v)
        .filter(|b| !b.is_empty() && b.len() <= 200)
}

/// Parses `; k=v; k2="quoted \"v\""` parameters (keys lower-cased).
pub fn header_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        // skip separators
        while i < b.len() && (b[i] == b';' || b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
        let ks = i;
        while i < b.len() && b[i] != b'=' && b[i] != b';' {
            i += 1;
        }
        let key = s[ks..i].trim().to_ascii_lowercase();
        if i >= b.len() || b[i] == b';' {
            if !key.is_empty() {
                out.push((key, String::new()));
            }
            continue;
        }
        i += 1; // '='
        let mut val = String::new();
        if i < b.len() && b[i] == b'"' {
            i += 1;
            let mut bytes = Vec::new();
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                }
                bytes.push(b[i]);
                i += 1;
            }
            i += 1; // closing quote
            val = String::from_utf8_lossy(&bytes).into_owned();
        } else {
            let vs = i;
            while i < b.len() && b[i] != b';' {
                i += 1;
            }
            val.push_str(s[vs..i].trim());
        }
        if !key.is_empty() {
            out.push((key, val));
        }
    }
    out
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    let first = needle[0];
    let last_start = hay.len() - needle.len();
    let mut i = from;
    while i <= last_start {
        match hay[i..=last_start].iter().position(|&c| c == first) {
            None => return None,
            Some(p) => {
                i += p;
                if &hay[i..i + needle.len()] == needle {
                    return Some(i);
                }
                i += 1;
            }
        }
    }
    None
}

/// Parses a multipart body. Returns the parts in order.
pub fn parse(body: &[u8], boundary: &str) -> Result<Vec<Part>, String> {
    let dash = format!("--{boundary}");
    let delim = format!("\r\n--{boundary}");
    // First delimiter: at the very start or after a preamble line.
    let mut pos = if body.starts_with(dash.as_bytes()) {
        dash.len()
    } else {
        find(body, delim.as_bytes(), 0).ok_or("multipart: no opening boundary found")? + delim.len()
    };
    let mut parts = Vec::new();
    loop {
        if body[pos..].starts_with(b"--") {
            return Ok(parts); // closing delimiter
        }
        // transport padding then CRLF
        while pos < body.len() && (body[pos] == b' ' || body[pos] == b'\t') {
            pos += 1;
        }
        if body[pos..].starts_with(b"\r\n") {
            pos += 2;
        } else if body[pos..].starts_with(b"\n") {
            pos += 1;
        } else {
            return Err("multipart: malformed boundary line".into());
        }
        // A part with no headers starts directly with the empty line.
        let (head_end, sep_len) = if body[pos..].starts_with(b"\r\n") {
            (pos, 2)
        } else {
            (
                find(body, b"\r\n\r\n", pos).ok_or("multipart: unterminated part headers")?,
                4,
            )
        };
        let head = String::from_utf8_lossy(&body[pos..head_end]).into_owned();
        let data_start = head_end + sep_len;
        let data_end = find(body, delim.as_bytes(), data_start)
            .ok_or("multipart: part is missing its closing boundary")?;
        let mut part = Part {
            name: None,
            filename: None,
            content_type: None,
            data: body[data_start..data_end].to_vec(),
        };
        for line in head.split("\r\n") {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let k = k.trim();
            if k.eq_ignore_ascii_case("Content-Disposition") {
                for (pk, pv) in header_params(v.find(';').map(|i| &v[i..]).unwrap_or("")) {
                    match pk.as_str() {
                        "name" => part.name = Some(pv),
                        // go-ipfs-files escapes file names; unescape like Kubo does.
                        "filename" => part.filename = Some(crate::http::percent_decode(&pv, false)),
                        _ => {}
                    }
                }
            } else if k.eq_ignore_ascii_case("Content-Type") {
                part.content_type = Some(v.trim().to_string());
            }
        }
        parts.push(part);
        pos = data_end + delim.len();
        if pos > body.len() {
            return Err("multipart: truncated body".into());
        }
    }
}

/// Builds a one-file multipart/form-data body. Returns (content type, body).
pub fn build_file(field: &str, filename: &str, data: &[u8]) -> (String, Vec<u8>) {
    let mut rnd = [0u8; 12];
    crate::sys::random_bytes(&mut rnd);
    let boundary: String = rnd.iter().map(|b| format!("{b:02x}")).collect();
    let boundary = format!("standin{boundary}");
    let mut body = Vec::with_capacity(data.len() + 256);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{}\"\r\nContent-Type: application/octet-stream\r\n\r\n",
            crate::http::percent_encode(filename)
        )
        .as_bytes(),
    );
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundary_parsing() {
        assert_eq!(
            boundary_from_content_type("multipart/form-data; boundary=abc").as_deref(),
            Some("abc")
        );
        assert_eq!(
            boundary_from_content_type("Multipart/Form-Data; charset=x; boundary=\"a b;c\"")
                .as_deref(),
            Some("a b;c")
        );
        assert_eq!(boundary_from_content_type("application/json"), None);
        assert_eq!(boundary_from_content_type("multipart/form-data"), None);
    }

    #[test]
    fn parses_curl_style_body() {
        // What `curl -F file=@hello.txt` sends (with a preamble-free body).
        let body = b"--------------------------d74496d66958873e\r\nContent-Disposition: form-data; name=\"file\"; filename=\"hello.txt\"\r\nContent-Type: text/plain\r\n\r\nhello world\n\r\n--------------------------d74496d66958873e--\r\n";
        let parts = parse(body, "------------------------d74496d66958873e").unwrap();
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].name.as_deref(), Some("file"));
        assert_eq!(parts[0].filename.as_deref(), Some("hello.txt"));
        assert_eq!(parts[0].content_type.as_deref(), Some("text/plain"));
        assert_eq!(parts[0].data, b"hello world\n");
    }

    #[test]
    fn parses_preamble_multiple_parts_and_boundary_like_data() {
        let body = b"preamble\r\n--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n--XY\r\n--XX\r\nContent-Disposition: form-data; name=\"b\"; filename=\"b%20c.bin\"\r\n\r\n\r\n--XX--";
        let parts = parse(body, "XX").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].data, b"--XY");
        assert_eq!(parts[1].filename.as_deref(), Some("b c.bin"));
        assert_eq!(parts[1].data, b"");
    }

    #[test]
    fn rejects_truncated() {
        assert!(
            parse(
                b"--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nabc",
                "XX"
            )
            .is_err()
        );
        assert!(parse(b"nothing here", "XX").is_err());
    }

    #[test]
    fn build_then_parse_round_trip() {
        let data: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        let (ct, body) = build_file("file", "a b.txt", &data);
        let b = boundary_from_content_type(&ct).unwrap();
        let parts = parse(&body, &b).unwrap();
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].filename.as_deref(), Some("a b.txt"));
        assert_eq!(parts[0].data, data);
    }
}
