//! TLS and HTTPS proxies end to end, all on 127.0.0.1: a test CA (rcgen) signs a certificate
//! for `api.clerk.test`; a tokio-rustls server with it stands in front of the embedded mock;
//! a tiny CONNECT proxy, run by the test, records what it is asked for and tunnels bytes to
//! that server. The client never resolves `api.clerk.test`: the proxy does (here, from a
//! table), as a real proxy resolves the names of the hosts behind it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clerk_tower::mock::{MockClerk, MockServer};
use clerk_tower::transport::{Proxy, TlsRoots, TransportConfig};
use clerk_tower::{Client, Error, RetryConfig};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const HOST: &str = "api.clerk.test";

/// A test CA, and a server configuration with a certificate it signed for `names`.
struct TestPki {
    ca_pem: String,
    server: Arc<rustls::ServerConfig>,
}

fn test_pki(names: &[&str]) -> TestPki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.distinguished_name
        .push(DnType::CommonName, "clerk-tower test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let leaf = CertificateParams::new(names)
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![leaf.der().clone()], key)
    .unwrap();
    TestPki {
        ca_pem: ca_cert.pem(),
        server: Arc::new(server),
    }
}

/// A TLS server on 127.0.0.1 that forwards the decrypted bytes to `backend` (the mock's
/// plain-HTTP address).
async fn tls_front(config: Arc<rustls::ServerConfig>, backend: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                if let Ok(mut upstream) = TcpStream::connect(backend).await {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
                }
            });
        }
    });
    addr
}

/// What the proxy was asked: the `CONNECT` target and the `Proxy-Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Connect {
    target: String,
    authorization: Option<String>,
}

#[derive(Default)]
struct ProxyLog {
    accepted: Mutex<usize>,
    connects: Mutex<Vec<Connect>>,
}

impl ProxyLog {
    fn connects(&self) -> Vec<Connect> {
        self.connects.lock().unwrap().clone()
    }

    fn accepted(&self) -> usize {
        *self.accepted.lock().unwrap()
    }
}

/// How the test proxy behaves.
#[derive(Clone)]
enum ProxyMode {
    /// Tunnels `CONNECT host:port` to the address in the table (502 for anything else);
    /// with `Some(credentials)`, answers 407 unless they were sent.
    Tunnel {
        routes: HashMap<String, SocketAddr>,
        required: Option<String>,
    },
    /// Accepts the TCP connection and never answers.
    Silent,
}

/// A CONNECT proxy on 127.0.0.1.
async fn connect_proxy(mode: ProxyMode) -> (SocketAddr, Arc<ProxyLog>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Arc::new(ProxyLog::default());
    let shared = Arc::clone(&log);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            *shared.accepted.lock().unwrap() += 1;
            match &mode {
                ProxyMode::Silent => held.push(stream),
                ProxyMode::Tunnel { routes, required } => {
                    tokio::spawn(tunnel(
                        stream,
                        routes.clone(),
                        required.clone(),
                        Arc::clone(&shared),
                    ));
                }
            }
        }
    });
    (addr, log)
}

async fn tunnel(
    mut client: TcpStream,
    routes: HashMap<String, SocketAddr>,
    required: Option<String>,
    log: Arc<ProxyLog>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    let head_end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        match client.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        assert!(buf.len() < 16 * 1024, "request head too long");
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    assert_eq!(parts.next(), Some("CONNECT"), "{request_line}");
    let target = parts.next().unwrap_or_default().to_owned();
    let authorization = lines.find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("proxy-authorization")
            .then(|| value.trim().to_owned())
    });
    log.connects.lock().unwrap().push(Connect {
        target: target.clone(),
        authorization: authorization.clone(),
    });
    if required.is_some() && authorization != required {
        let _ = client
            .write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    }
    let Some(upstream) = routes.get(&target) else {
        let _ = client
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    };
    let Ok(mut upstream) = TcpStream::connect(upstream).await else {
        return;
    };
    if client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await
        .is_err()
    {
        return;
    }
    if upstream.write_all(&buf[head_end..]).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

/// The mock over TCP, a TLS front for `names` before it, and a proxy routing `HOST:443`
/// there.
struct Setup {
    server: MockServer,
    pki: TestPki,
    front: SocketAddr,
    proxy: SocketAddr,
    log: Arc<ProxyLog>,
}

async fn setup(required: Option<&str>) -> Setup {
    let server = MockClerk::new().serve().await.unwrap();
    let pki = test_pki(&[HOST, "localhost"]);
    let front = tls_front(Arc::clone(&pki.server), server.addr()).await;
    let routes = HashMap::from([(format!("{HOST}:443"), front)]);
    let (proxy, log) = connect_proxy(ProxyMode::Tunnel {
        routes,
        required: required.map(str::to_owned),
    })
    .await;
    Setup {
        server,
        pki,
        front,
        proxy,
        log,
    }
}

fn client(base_url: &str, transport: TransportConfig) -> Result<Client, Error> {
    Client::builder()
        .secret_key(MockClerk::DEFAULT_SECRET_KEY)
        .base_url(base_url)
        .retry(RetryConfig::disabled())
        .timeout(Duration::from_secs(20))
        .transport_config(transport)
        .build()
}

/// Every root choice this build has (the default is one of them).
fn root_choices() -> Vec<TlsRoots> {
    #[allow(unused_mut)]
    let mut roots = vec![TlsRoots::ExtraOnly];
    #[cfg(feature = "webpki-roots")]
    roots.push(TlsRoots::WebPki);
    #[cfg(feature = "native-roots")]
    roots.push(TlsRoots::Native);
    #[cfg(feature = "platform-verifier")]
    roots.push(TlsRoots::Platform);
    assert!(roots.contains(&TlsRoots::default()));
    roots
}

#[tokio::test]
async fn extra_roots_and_a_connect_proxy_reach_a_tls_server() {
    let s = setup(Some("Basic YWRhOnMzY3JldA==")).await;
    for roots in root_choices() {
        let transport = TransportConfig {
            tls_roots: roots,
            extra_root_certificates: vec![s.pki.ca_pem.clone().into_bytes()],
            proxy: Proxy::url(format!("http://ada:s3cret@{}", s.proxy)),
            ..TransportConfig::default()
        };
        let shown = format!("{transport:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        let client = client(&format!("https://{HOST}/v1"), transport).unwrap();
        let allowlist = client.allowlist_identifiers();
        let created = allowlist
            .create(format!("{roots:?}@example.com"))
            .await
            .unwrap_or_else(|e| panic!("{roots:?}: {e}"));
        let page = allowlist.list().await.unwrap();
        assert!(page.data.iter().any(|i| i.id == created.id), "{roots:?}");
    }
    let connects = s.log.connects();
    assert_eq!(
        connects.len(),
        root_choices().len(),
        "one tunnel per client, kept alive for its second call: {connects:?}"
    );
    for c in connects {
        assert_eq!(c.target, format!("{HOST}:443"));
        // base64("ada:s3cret")
        assert_eq!(c.authorization.as_deref(), Some("Basic YWRhOnMzY3JldA=="));
    }
    s.server.shutdown().await;
}

#[tokio::test]
async fn without_the_extra_root_the_server_is_not_trusted() {
    let s = setup(None).await;
    let client = client(
        &format!("https://{HOST}/v1"),
        TransportConfig {
            proxy: Proxy::url(format!("http://{}", s.proxy)),
            ..TransportConfig::default()
        },
    )
    .unwrap();
    let err = client.allowlist_identifiers().list().await.unwrap_err();
    match &err {
        Error::Transport(t) => assert!(t.is_connect(), "{err}"),
        other => panic!("expected a connect error, got {other:?}"),
    }
    assert!(err.to_string().contains("certificate"), "{err}");
    assert_eq!(s.log.connects().len(), 1, "it went through the proxy");
    s.server.shutdown().await;
}

#[tokio::test]
async fn a_proxy_asking_for_credentials_is_a_connect_error() {
    let s = setup(Some("Basic YWRhOnMzY3JldA==")).await;
    for proxy in [
        format!("http://{}", s.proxy),
        format!("http://ada:wrong@{}", s.proxy),
    ] {
        let client = client(
            &format!("https://{HOST}/v1"),
            TransportConfig {
                extra_root_certificates: vec![s.pki.ca_pem.clone().into_bytes()],
                proxy: Proxy::url(proxy),
                ..TransportConfig::default()
            },
        )
        .unwrap();
        let err = client.allowlist_identifiers().list().await.unwrap_err();
        match &err {
            Error::Transport(t) => assert!(t.is_connect(), "{err}"),
            other => panic!("expected a connect error, got {other:?}"),
        }
        assert!(err.to_string().contains("proxy authorization"), "{err}");
        assert!(!err.to_string().contains("wrong"), "{err}");
    }
    s.server.shutdown().await;
}

#[tokio::test]
async fn loopback_destinations_bypass_the_proxy() {
    let s = setup(None).await;
    let proxied = || TransportConfig {
        extra_root_certificates: vec![s.pki.ca_pem.clone().into_bytes()],
        proxy: Proxy::url(format!("http://{}", s.proxy)),
        ..TransportConfig::default()
    };
    for base_url in [
        s.server.base_url(),
        format!("https://localhost:{}/v1", s.front.port()),
    ] {
        let client = client(&base_url, proxied()).unwrap();
        client
            .allowlist_identifiers()
            .list()
            .await
            .unwrap_or_else(|e| panic!("{base_url}: {e}"));
    }
    assert_eq!(s.log.accepted(), 0, "{:?}", s.log.connects());
    s.server.shutdown().await;
}

#[tokio::test]
async fn the_connect_timeout_covers_the_proxy_and_a_create_is_retried() {
    // The proxy accepts and never answers the CONNECT: the request was never written, so
    // this is a connect error, retried even for a create.
    let (proxy, log) = connect_proxy(ProxyMode::Silent).await;
    let max_retries = 2;
    let client = Client::builder()
        .secret_key(MockClerk::DEFAULT_SECRET_KEY)
        .base_url(format!("https://{HOST}/v1"))
        .timeout(Duration::from_secs(10))
        .retry(
            RetryConfig::default()
                .max_retries(max_retries)
                .backoff(Duration::from_millis(10), Duration::from_millis(50)),
        )
        .transport_config(TransportConfig {
            connect_timeout: Duration::from_millis(200),
            proxy: Proxy::url(format!("http://{proxy}")),
            ..TransportConfig::default()
        })
        .build()
        .unwrap();
    let err = client
        .allowlist_identifiers()
        .create("ada@example.com")
        .await
        .unwrap_err();
    match &err {
        Error::Transport(t) => assert!(t.is_connect(), "{err}"),
        other => panic!("expected a connect error, got {other:?}"),
    }
    assert!(err.to_string().contains("connect timeout"), "{err}");
    assert_eq!(err.attempts(), max_retries + 1, "{err}");
    assert_eq!(log.accepted(), max_retries as usize + 1);
}

#[test]
fn unusable_settings_are_config_errors_from_build() {
    let config_error =
        |transport: TransportConfig| match client("https://api.clerk.test/v1", transport) {
            Err(Error::Config(c)) => c.message().to_owned(),
            Err(other) => panic!("expected Error::Config, got {other:?}"),
            Ok(_) => panic!("expected Error::Config, got a client"),
        };
    let message = config_error(TransportConfig {
        extra_root_certificates: vec![b"-----BEGIN CERTIFICATE-----\nnot base64!\n".to_vec()],
        ..TransportConfig::default()
    });
    assert!(message.contains("extra_root_certificates"), "{message}");
    let message = config_error(TransportConfig {
        proxy: Proxy::url("socks5://ada:s3cret@127.0.0.1:1080"),
        ..TransportConfig::default()
    });
    assert!(message.contains("SOCKS"), "{message}");
    assert!(!message.contains("s3cret"), "{message}");
    let message = config_error(TransportConfig {
        tls_roots: TlsRoots::ExtraOnly,
        ..TransportConfig::default()
    });
    assert!(message.contains("ExtraOnly"), "{message}");
}
