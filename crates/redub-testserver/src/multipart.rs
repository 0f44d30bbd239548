//! Reading the multipart/form-data bodies the cloning clients upload.

/// One part of a multipart/form-data body.
#[derive(Clone, Debug)]
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

impl Part {
    pub fn text(&self) -> String {
        String::from_utf8(self.data.clone()).unwrap()
    }
}

/// Splits a multipart body at `--boundary` lines and reads each part's headers.
pub fn parse_multipart(body: &[u8], boundary: &str) -> Vec<Part> {
    let delimiter = format!("--{boundary}").into_bytes();
    let mut starts = Vec::new();
    let mut i = 0;
    while i + delimiter.len() <= body.len() {
        if body[i..].starts_with(&delimiter) && (i == 0 || body[..i].ends_with(b"\r\n")) {
            starts.push(i);
            i += delimiter.len();
        } else {
            i += 1;
        }
    }
    assert!(starts.len() >= 2, "no multipart delimiters");
    let last = *starts.last().unwrap();
    assert!(body[last + delimiter.len()..].starts_with(b"--"), "the body does not end with the close delimiter");
    let mut parts = Vec::new();
    for pair in starts.windows(2) {
        let section = &body[pair[0] + delimiter.len()..pair[1] - 2]; // the CRLF before the next delimiter
        let section = section.strip_prefix(b"\r\n").expect("delimiter not followed by CRLF");
        let split = section.windows(4).position(|w| w == b"\r\n\r\n").expect("part without a blank line");
        let head = std::str::from_utf8(&section[..split]).unwrap();
        let data = section[split + 4..].to_vec();
        let mut part = Part { name: String::new(), filename: None, content_type: None, data };
        for line in head.split("\r\n") {
            let (name, value) = line.split_once(':').unwrap();
            match name.trim().to_ascii_lowercase().as_str() {
                "content-disposition" => {
                    for param in value.split(';').map(str::trim) {
                        if let Some(v) = param.strip_prefix("name=") {
                            part.name = v.trim_matches('"').to_string();
                        } else if let Some(v) = param.strip_prefix("filename=") {
                            part.filename = Some(v.trim_matches('"').to_string());
                        }
                    }
                }
                "content-type" => part.content_type = Some(value.trim().to_string()),
                _ => {}
            }
        }
        parts.push(part);
    }
    parts
}
