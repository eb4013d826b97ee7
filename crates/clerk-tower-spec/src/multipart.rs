//! `multipart/form-data` bodies (RFC 7578), as the spec's three upload operations take them:
//! the `boundary` of a `Content-Type` and the parts of a body. Strict about framing (CRLF line
//! ends, a closing delimiter), lenient about header case and quoting.

/// One part of a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'a> {
    /// The `name` of its `Content-Disposition`.
    pub name: String,
    /// The `filename`, for a file.
    pub filename: Option<String>,
    /// Its `Content-Type`, if it has one.
    pub content_type: Option<String>,
    /// Its content.
    pub data: &'a [u8],
}

/// A parsed body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Multipart<'a> {
    /// The bytes before the first delimiter (RFC 2046 lets a sender put anything there).
    pub preamble: &'a [u8],
    /// The parts, in order.
    pub parts: Vec<Part<'a>>,
}

/// The `boundary` parameter of a multipart `Content-Type` (1 to 70 characters, RFC 2046).
pub fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (key, value) = param.split_once('=')?;
        if !key.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let value = value.trim().trim_matches('"');
        (!value.is_empty() && value.len() <= 70).then(|| value.to_owned())
    })
}

/// Splits `body` into its parts. An empty (or all-whitespace) body has none.
///
/// # Errors
/// What is wrong with the framing: no delimiter, a part without headers, without a closing
/// delimiter, without a `Content-Disposition` name, or with headers that are not UTF-8.
pub fn parse<'a>(body: &'a [u8], boundary: &str) -> Result<Multipart<'a>, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Multipart {
            preamble: body,
            parts: Vec::new(),
        });
    }
    let delimiter = format!("--{boundary}");
    let next = format!("\r\n{delimiter}");
    let start = find(body, delimiter.as_bytes()).ok_or("no boundary delimiter")?;
    let preamble = body.get(..start).unwrap_or_default();
    let mut rest = body.get(start + delimiter.len()..).unwrap_or_default();
    let mut parts = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return Ok(Multipart { preamble, parts });
        }
        rest = rest
            .strip_prefix(b"\r\n")
            .ok_or("no CRLF after a delimiter")?;
        let head_end = find(rest, b"\r\n\r\n").ok_or("a part without headers")?;
        let head = std::str::from_utf8(rest.get(..head_end).unwrap_or_default())
            .map_err(|_| "part headers that are not UTF-8")?;
        rest = rest.get(head_end + 4..).unwrap_or_default();
        let data_end = find(rest, next.as_bytes()).ok_or("a part without a closing delimiter")?;
        let data = rest.get(..data_end).unwrap_or_default();
        rest = rest.get(data_end + next.len()..).unwrap_or_default();
        let mut name = None;
        let mut filename = None;
        let mut content_type = None;
        for line in head.split("\r\n") {
            let Some((header, value)) = line.split_once(':') else {
                continue;
            };
            let header = header.trim();
            if header.eq_ignore_ascii_case("content-type") {
                content_type = Some(value.trim().to_owned());
            } else if header.eq_ignore_ascii_case("content-disposition") {
                for param in value.split(';').skip(1) {
                    let Some((key, v)) = param.split_once('=') else {
                        continue;
                    };
                    let v = v.trim().trim_matches('"').to_owned();
                    match key.trim().to_ascii_lowercase().as_str() {
                        "name" => name = Some(v),
                        "filename" => filename = Some(v),
                        _ => {}
                    }
                }
            }
        }
        parts.push(Part {
            name: name.ok_or("a part without a Content-Disposition name")?,
            filename,
            content_type,
            data,
        });
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_and_boundaries() {
        let body = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n--XyZ\r\ncontent-disposition: form-data; name=uploader_user_id\r\n\r\nuser_1\r\n--XyZ--\r\n";
        let parsed = parse(body, "XyZ").unwrap();
        assert_eq!(parsed.preamble, b"preamble\r\n");
        let names: Vec<&str> = parsed.parts.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["file", "uploader_user_id"]);
        assert_eq!(parsed.parts[0].filename.as_deref(), Some("a.png"));
        assert_eq!(parsed.parts[0].content_type.as_deref(), Some("image/png"));
        assert_eq!(parsed.parts[0].data, b"\x89PNG");
        assert_eq!(parsed.parts[1].data, b"user_1");
        assert!(parse(b"", "XyZ").unwrap().parts.is_empty());
        for broken in [
            &b"no delimiter"[..],
            b"--XyZ\r\nno head end",
            b"--XyZ\r\n\r\nno end",
            b"--XyZ",
            b"--XyZ\r\nX-Other: 1\r\n\r\ndata\r\n--XyZ--",
        ] {
            assert!(parse(broken, "XyZ").is_err(), "{broken:?}");
        }
        assert_eq!(
            boundary("multipart/form-data; boundary=\"a b\""),
            Some("a b".to_owned())
        );
        assert_eq!(boundary("multipart/form-data"), None);
        assert_eq!(boundary("multipart/form-data; boundary="), None);
    }
}
