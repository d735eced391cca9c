//! multipart/form-data: parsing Kubo's /api/v0/add bodies (multer) and building the CLI's
//! one-file body.

use hyper::body::Bytes;

#[derive(Debug, Clone)]
pub struct Part {
    /// The form field's name: kubo reads every part whatever its name (the tests check it).
    #[allow(dead_code)]
    pub name: Option<String>,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

/// Extracts the boundary from a `multipart/...; boundary=...` Content-Type.
pub fn boundary_from_content_type(ct: &str) -> Option<String> {
    let m: mime::Mime = ct.parse().ok()?;
    if m.type_() != mime::MULTIPART {
        return None;
    }
    m.get_param(mime::BOUNDARY)
        .map(|b| b.as_str().to_string())
        .filter(|b| !b.is_empty() && b.len() <= 200)
}

/// Parses a multipart body (multer). Returns the parts in order.
pub fn parse(body: &[u8], boundary: &str) -> Result<Vec<Part>, String> {
    let body = Bytes::copy_from_slice(body);
    let stream = futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut mp = multer::Multipart::new(stream, boundary);
    // The whole body is already here: no future below ever waits.
    futures_executor::block_on(async move {
        let mut parts = Vec::new();
        while let Some(field) = mp.next_field().await.map_err(|e| e.to_string())? {
            let name = field.name().map(str::to_string);
            // go-ipfs-files escapes file names; unescape like Kubo does.
            let filename = field.file_name().map(crate::http::percent_decode);
            let content_type = field
                .headers()
                .get(hyper::header::CONTENT_TYPE)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_string());
            let data = field.bytes().await.map_err(|e| e.to_string())?.to_vec();
            parts.push(Part {
                name,
                filename,
                content_type,
                data,
            });
        }
        Ok(parts)
    })
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
