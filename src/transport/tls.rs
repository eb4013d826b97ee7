//! TLS of the default transport: the rustls crypto provider and the root certificates.
//!
//! The crypto provider is the process default when the application installed one
//! (`rustls::crypto::CryptoProvider::install_default`), else the one compiled in by the `ring`
//! (default) or `aws-lc-rs` feature (aws-lc-rs when both are enabled). A build with neither
//! needs the process default: [`ClientBuilder::build`](crate::ClientBuilder::build) returns
//! [`Error::Config`] when there is none. The client never installs a process default itself.
//!
//! The root certificates are chosen by [`TlsRoots`], plus any extra roots given as PEM in
//! [`TransportConfig::extra_root_certificates`](super::TransportConfig::extra_root_certificates).

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;

use super::TransportConfig;
use crate::Error;

/// Where the default transport finds the root certificates it trusts.
///
/// Which variants exist depends on the crate's features. The default is the one a
/// non-default feature asked for: `Platform` when `platform-verifier` is enabled, else
/// `Native` when `native-roots` is, else `WebPki` (the default feature `webpki-roots`), else
/// [`ExtraOnly`](Self::ExtraOnly).
///
/// Whatever the choice, the certificates in
/// [`TransportConfig::extra_root_certificates`](super::TransportConfig::extra_root_certificates)
/// are trusted too: that is where a corporate or test CA goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsRoots {
    /// Mozilla's root certificates, compiled into the binary (the `webpki-roots` crate): the
    /// same on every machine, updated with the crate.
    #[cfg(feature = "webpki-roots")]
    #[cfg_attr(docsrs, doc(cfg(feature = "webpki-roots")))]
    WebPki,
    /// The operating system's root certificates (the `rustls-native-certs` crate), read once
    /// per process, by the first client built with them. `SSL_CERT_FILE` and `SSL_CERT_DIR`
    /// are honoured. Building fails with [`Error::Config`] when none can be loaded and no
    /// extra root is given.
    #[cfg(feature = "native-roots")]
    #[cfg_attr(docsrs, doc(cfg(feature = "native-roots")))]
    Native,
    /// The operating system's certificate verifier (the `rustls-platform-verifier` crate):
    /// the platform's trust settings and revocation checks on macOS, iOS, Windows and
    /// Android; the system's root certificates with WebPKI elsewhere. Without extra roots,
    /// one verifier is made per process and shared by the clients built with it.
    #[cfg(feature = "platform-verifier")]
    #[cfg_attr(docsrs, doc(cfg(feature = "platform-verifier")))]
    Platform,
    /// No built-in roots: only the extra root certificates are trusted. Building fails with
    /// [`Error::Config`] when there are none.
    ExtraOnly,
}

#[cfg(feature = "platform-verifier")]
const DEFAULT_ROOTS: TlsRoots = TlsRoots::Platform;
#[cfg(all(feature = "native-roots", not(feature = "platform-verifier")))]
const DEFAULT_ROOTS: TlsRoots = TlsRoots::Native;
#[cfg(all(
    feature = "webpki-roots",
    not(any(feature = "native-roots", feature = "platform-verifier"))
))]
const DEFAULT_ROOTS: TlsRoots = TlsRoots::WebPki;
#[cfg(not(any(
    feature = "webpki-roots",
    feature = "native-roots",
    feature = "platform-verifier"
)))]
const DEFAULT_ROOTS: TlsRoots = TlsRoots::ExtraOnly;

impl Default for TlsRoots {
    fn default() -> Self {
        DEFAULT_ROOTS
    }
}

/// The crypto provider: the process default if the application installed one, else the one
/// compiled in.
pub(crate) fn crypto_provider() -> Result<Arc<CryptoProvider>, Error> {
    if let Some(installed) = CryptoProvider::get_default() {
        return Ok(Arc::clone(installed));
    }
    compiled_in_provider().ok_or_else(|| {
        Error::config(
            "no rustls crypto provider: enable the `ring` or `aws-lc-rs` feature of \
             clerk-tower, or install a process default with \
             `rustls::crypto::CryptoProvider::install_default` before building the client",
        )
    })
}

/// The compiled-in provider, made once: one allocation, and a stable identity for the shared
/// platform verifier.
#[cfg(any(feature = "ring", feature = "aws-lc-rs"))]
fn compiled_in_provider() -> Option<Arc<CryptoProvider>> {
    static PROVIDER: std::sync::OnceLock<Arc<CryptoProvider>> = std::sync::OnceLock::new();
    Some(Arc::clone(PROVIDER.get_or_init(|| {
        #[cfg(feature = "aws-lc-rs")]
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        #[cfg(not(feature = "aws-lc-rs"))]
        let provider = rustls::crypto::ring::default_provider();
        Arc::new(provider)
    })))
}

#[cfg(not(any(feature = "ring", feature = "aws-lc-rs")))]
fn compiled_in_provider() -> Option<Arc<CryptoProvider>> {
    None
}

/// The rustls client configuration of the default transport (ALPN is left to hyper-rustls).
pub(crate) fn client_config(config: &TransportConfig) -> Result<rustls::ClientConfig, Error> {
    let provider = crypto_provider()?;
    let extra = extra_roots(&config.extra_root_certificates)?;
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::config(format!("the rustls crypto provider cannot be used: {e}")))?;
    let builder = match config.tls_roots {
        #[cfg(feature = "webpki-roots")]
        TlsRoots::WebPki => {
            let roots = RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            builder.with_root_certificates(with_extra(roots, extra.anchors))
        }
        #[cfg(feature = "native-roots")]
        TlsRoots::Native => {
            let system = system_roots();
            if system.roots.is_empty() && extra.certs.is_empty() {
                let why = system
                    .error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default();
                return Err(Error::config(format!(
                    "TlsRoots::Native: no root certificate could be loaded from the operating \
                     system{why}; install the system's CA bundle, set SSL_CERT_FILE, or give \
                     TransportConfig::extra_root_certificates"
                )));
            }
            builder.with_root_certificates(with_extra(system.roots.clone(), extra.anchors))
        }
        #[cfg(feature = "platform-verifier")]
        TlsRoots::Platform => builder
            .dangerous()
            .with_custom_certificate_verifier(platform_verifier(extra.certs, provider)?),
        TlsRoots::ExtraOnly => {
            if extra.certs.is_empty() {
                return Err(Error::config(
                    "TlsRoots::ExtraOnly without TransportConfig::extra_root_certificates: \
                     no server could be trusted",
                ));
            }
            builder.with_root_certificates(extra.anchors)
        }
    };
    Ok(builder.with_no_client_auth())
}

/// The operating system's root certificates, loaded and parsed once per process (tens of
/// milliseconds in a debug build; a process may build many clients).
#[cfg(feature = "native-roots")]
struct SystemRoots {
    roots: RootCertStore,
    /// Why some or all certificates could not be loaded, if anything failed.
    error: Option<String>,
}

#[cfg(feature = "native-roots")]
fn system_roots() -> &'static SystemRoots {
    static SYSTEM: std::sync::OnceLock<SystemRoots> = std::sync::OnceLock::new();
    SYSTEM.get_or_init(|| {
        let loaded = rustls_native_certs::load_native_certs();
        let mut roots = RootCertStore::empty();
        // Like curl and hyper-rustls: unreadable or unparsable system certificates are
        // skipped; only an empty result is an error.
        roots.add_parsable_certificates(loaded.certs);
        SystemRoots {
            roots,
            error: loaded.errors.first().map(ToString::to_string),
        }
    })
}

/// The platform verifier. Without extra roots it is made once per process and crypto
/// provider and shared: on Linux it loads and parses the system's certificates, tens of
/// milliseconds in a debug build, and a process may build many clients.
#[cfg(feature = "platform-verifier")]
fn platform_verifier(
    extra: Vec<CertificateDer<'static>>,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<rustls_platform_verifier::Verifier>, Error> {
    type Shared = Option<(Arc<CryptoProvider>, Arc<rustls_platform_verifier::Verifier>)>;
    static SHARED: std::sync::Mutex<Shared> = std::sync::Mutex::new(None);
    if !extra.is_empty() {
        return new_platform_verifier(extra, provider);
    }
    let mut shared = SHARED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((for_provider, verifier)) = shared.as_ref() {
        if Arc::ptr_eq(for_provider, &provider) {
            return Ok(Arc::clone(verifier));
        }
    }
    let verifier = new_platform_verifier(extra, Arc::clone(&provider))?;
    *shared = Some((provider, Arc::clone(&verifier)));
    Ok(verifier)
}

#[cfg(feature = "platform-verifier")]
fn new_platform_verifier(
    extra: Vec<CertificateDer<'static>>,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<rustls_platform_verifier::Verifier>, Error> {
    let failed = |e: rustls::Error| {
        Error::config(format!(
            "TlsRoots::Platform: the platform certificate verifier failed to start: {e}"
        ))
    };
    #[cfg(not(target_os = "android"))]
    let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider);
    #[cfg(target_os = "android")]
    let verifier = if extra.is_empty() {
        rustls_platform_verifier::Verifier::new(provider)
    } else {
        return Err(Error::config(
            "TlsRoots::Platform cannot add extra root certificates on Android: install them \
             in the system's trust store, or use another TlsRoots",
        ));
    };
    verifier.map(Arc::new).map_err(failed)
}

/// `roots` plus the extra roots.
#[cfg(any(feature = "webpki-roots", feature = "native-roots"))]
fn with_extra(mut roots: RootCertStore, extra: RootCertStore) -> RootCertStore {
    roots.roots.extend(extra.roots);
    roots
}

/// The extra root certificates, as given (for the platform verifier) and as trust anchors.
struct ExtraRoots {
    certs: Vec<CertificateDer<'static>>,
    anchors: RootCertStore,
}

/// Every `CERTIFICATE` block of every PEM document, in order, each checked to be a usable
/// root certificate. Other blocks (a private key that came along in the same file) are
/// skipped; a document without any certificate, or one that is not valid PEM, is an error.
fn extra_roots(pems: &[Vec<u8>]) -> Result<ExtraRoots, Error> {
    const SETTING: &str = "TransportConfig::extra_root_certificates";
    let mut certs = Vec::new();
    let mut anchors = RootCertStore::empty();
    for (n, pem) in pems.iter().enumerate() {
        let n = n.saturating_add(1);
        let before = certs.len();
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| {
                Error::config(format!("{SETTING}: PEM document {n} is not valid PEM: {e}"))
            })?;
            anchors.add(cert.clone()).map_err(|e| {
                Error::config(format!(
                    "{SETTING}: certificate {} (in PEM document {n}) is not a usable root \
                     certificate: {e}",
                    certs.len().saturating_add(1)
                ))
            })?;
            certs.push(cert);
        }
        if certs.len() == before {
            return Err(Error::config(format!(
                "{SETTING}: PEM document {n} holds no CERTIFICATE block"
            )));
        }
    }
    Ok(ExtraRoots { certs, anchors })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_error(result: Result<rustls::ClientConfig, Error>) -> String {
        match result {
            Err(Error::Config(c)) => c.message().to_owned(),
            Err(other) => panic!("expected Error::Config, got {other:?}"),
            Ok(_) => panic!("expected Error::Config, got a TLS configuration"),
        }
    }

    #[cfg(any(feature = "ring", feature = "aws-lc-rs"))]
    #[test]
    fn bad_pem_is_a_config_error() {
        let with = |pem: &str| TransportConfig {
            extra_root_certificates: vec![pem.as_bytes().to_vec()],
            ..TransportConfig::default()
        };
        let message = config_error(client_config(&with("not a certificate")));
        assert!(message.contains("no CERTIFICATE block"), "{message}");
        let message = config_error(client_config(&with(
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )));
        assert!(message.contains("certificate 1"), "{message}");
        let message = config_error(client_config(&with(
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        )));
        assert!(message.contains("not valid PEM"), "{message}");
        let message = config_error(client_config(&with("-----BEGIN CERTIFICATE-----\nAAAA\n")));
        assert!(message.contains("not valid PEM"), "{message}");
    }

    #[cfg(any(feature = "ring", feature = "aws-lc-rs"))]
    #[test]
    fn extra_only_needs_extra_roots() {
        let config = TransportConfig {
            tls_roots: TlsRoots::ExtraOnly,
            ..TransportConfig::default()
        };
        let message = config_error(client_config(&config));
        assert!(message.contains("ExtraOnly"), "{message}");
    }

    /// Without a compiled-in provider, the process default is required. Run with
    /// `cargo test --no-default-features --lib transport::tls`: the only test of that run
    /// that touches the process default, which it installs at the end.
    #[cfg(not(any(feature = "ring", feature = "aws-lc-rs")))]
    #[test]
    fn without_a_provider_the_process_default_is_required() {
        if CryptoProvider::get_default().is_none() {
            let message = config_error(client_config(&TransportConfig::default()));
            assert!(message.contains("no rustls crypto provider"), "{message}");
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let config = TransportConfig {
            tls_roots: TlsRoots::ExtraOnly,
            ..TransportConfig::default()
        };
        // Past the provider check now: the next complaint is about the roots.
        let message = config_error(client_config(&config));
        assert!(message.contains("ExtraOnly"), "{message}");
    }
}
