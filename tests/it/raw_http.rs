//! The one hand-written HTTP/1.x client of the tests: raw bytes over a plain `TcpStream`
//! (neither our client nor hyper's), for what other clients send to the mock and how the
//! mock's answers look on the wire. Used by `mock_compat` and `mock_ci`.

use std::net::SocketAddr;
use std::time::Duration;

use clerk_tower::mock::MockClerk;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

pub(crate) const KEY: &str = MockClerk::DEFAULT_SECRET_KEY;
pub(crate) const WAIT: Duration = Duration::from_secs(5);

/// One parsed HTTP response.
#[derive(Debug)]
pub(crate) struct RawResponse {
    /// `HTTP/1.1` or `HTTP/1.0`.
    pub(crate) version: String,
    pub(crate) status: u16,
    /// Header names lower-cased, in order.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl RawResponse {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// What every answer of the mock carries: a JSON content type and an exact length.
    pub(crate) fn assert_json_with_length(&self) {
        let ct = self.header("content-type").expect("a Content-Type");
        assert_eq!(
            ct.split(';').next().map(str::trim),
            Some("application/json"),
            "{ct}"
        );
        let len: usize = self
            .header("content-length")
            .expect("a Content-Length")
            .parse()
            .unwrap();
        assert_eq!(len, self.body.len());
        assert!(self.header("transfer-encoding").is_none());
    }
}

/// A client connection that writes raw bytes and parses responses by hand.
pub(crate) struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub(crate) async fn open(addr: SocketAddr) -> Conn {
        let stream = timeout(WAIT, TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        Conn {
            stream,
            buf: Vec::new(),
        }
    }

    pub(crate) async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// Reads more bytes; false at end of stream.
    pub(crate) async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 8192];
        let n = timeout(WAIT, self.stream.read(&mut chunk))
            .await
            .expect("the server answers in time")
            .unwrap_or(0);
        self.buf.extend_from_slice(&chunk[..n]);
        n > 0
    }

    /// Reads one response (a `Content-Length` body, or none for 1xx/204/304).
    pub(crate) async fn response(&mut self) -> RawResponse {
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            assert!(
                self.fill().await,
                "connection closed before a response head: {:?}",
                String::from_utf8_lossy(&self.buf)
            );
        };
        let head = String::from_utf8(self.buf[..head_end].to_vec()).expect("an ASCII head");
        self.buf.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap();
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap().to_owned();
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("status line {status_line:?}"));
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (k, v) = l
                    .split_once(':')
                    .unwrap_or_else(|| panic!("header line {l:?}"));
                (k.trim().to_ascii_lowercase(), v.trim().to_owned())
            })
            .collect();
        let len = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .map_or(0, |(_, v)| {
                v.parse::<usize>().expect("a numeric Content-Length")
            });
        assert!(
            !headers
                .iter()
                .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")),
            "the mock sends sized bodies"
        );
        while self.buf.len() < len {
            assert!(self.fill().await, "connection closed inside a body");
        }
        let body = self.buf.drain(..len).collect();
        RawResponse {
            version,
            status,
            headers,
            body,
        }
    }

    /// Whether the server closes the connection (end of stream) without sending more.
    pub(crate) async fn closed_by_server(&mut self) -> bool {
        !self.fill().await && self.buf.is_empty()
    }
}

/// A request head with the given lines, the bearer key and a body.
pub(crate) fn request(start: &str, extra: &[&str], body: &str) -> Vec<u8> {
    let mut out = format!("{start}\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\n");
    for line in extra {
        out.push_str(line);
        out.push_str("\r\n");
    }
    if !body.is_empty() {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    out.push_str(body);
    out.into_bytes()
}
