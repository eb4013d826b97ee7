//! HTTPS proxies of the default transport: which proxy, if any, a connection goes through.
//!
//! Only `https` destinations use a proxy, through an HTTP `CONNECT` tunnel (hyper-util's
//! `Tunnel`): the proxy sees the host and port, never the request, and TLS runs end to end
//! between the client and Clerk. Plain `http` is only ever sent to loopback addresses (the
//! base URL refuses anything else), and loopback destinations (`localhost`, `127.0.0.0/8`,
//! `[::1]`) never go through a proxy: a local mock or test server is reached directly even
//! when `HTTPS_PROXY` is set for the rest of the machine. `NO_PROXY` rules (and
//! [`Proxy::no_proxy`]) are hyper-util's, which follow curl's: comma-separated host names
//! (matching subdomains too, with or without a leading dot), IP addresses, CIDR ranges, or
//! `*` for everything.
//!
//! The decision is made once per new connection, in the connector; pooled connections cost
//! nothing.

use std::fmt;
use std::sync::Arc;

use http::Uri;
use hyper_util::client::proxy::matcher::{Intercept, Matcher};

use crate::Error;

/// The variables [`Proxy::from_env`] reads for the proxy, the first one set (and not empty)
/// wins.
const PROXY_VARS: [&str; 4] = ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"];
/// The variables [`Proxy::from_env`] reads for the exclusions.
const NO_PROXY_VARS: [&str; 2] = ["NO_PROXY", "no_proxy"];

/// Which HTTPS proxy the default transport tunnels through (the
/// [`proxy`](super::TransportConfig::proxy) setting).
///
/// ```
/// use clerk_tower::transport::{Proxy, TransportConfig};
///
/// // The default: HTTPS_PROXY / ALL_PROXY and NO_PROXY, read when the client is built.
/// let from_env = TransportConfig::default();
/// // An explicit proxy (credentials are sent as `Proxy-Authorization: Basic`), with
/// // exclusions; the environment is then not read at all.
/// let explicit = TransportConfig {
///     proxy: Proxy::url("http://user:secret@proxy.corp.example:3128")
///         .no_proxy("internal.example, 10.0.0.0/8"),
///     ..TransportConfig::default()
/// };
/// // Never a proxy, whatever the environment says.
/// let direct = TransportConfig { proxy: Proxy::none(), ..TransportConfig::default() };
/// assert!(!format!("{explicit:?}").contains("secret"));
/// ```
///
/// Proxy URLs are `http://[user:password@]host[:port]` (the scheme may be left out; the port
/// defaults to 80); user and password are percent-decoded and sent as
/// `Proxy-Authorization: Basic` in the `CONNECT` request. `https://` proxy URLs (TLS to the
/// proxy itself) and SOCKS proxies are not supported: [`ClientBuilder::build`] returns
/// [`Error::Config`] for them, as for a malformed URL, with a message that never shows the
/// URL's credentials. `Debug` never shows them either.
///
/// [`ClientBuilder::build`]: crate::ClientBuilder::build
#[derive(Clone, Default)]
pub struct Proxy {
    source: Source,
    no_proxy: Option<String>,
}

#[derive(Clone, Default)]
enum Source {
    #[default]
    Env,
    Disabled,
    Url(String),
}

impl Proxy {
    /// The proxy from the environment (the default), read when the client is built: the
    /// first of `HTTPS_PROXY`, `https_proxy`, `ALL_PROXY`, `all_proxy` that is set and not
    /// empty, with the exclusions of `NO_PROXY` (or `no_proxy`). `HTTP_PROXY` is not read:
    /// plain http only goes to loopback, which is never proxied.
    pub fn from_env() -> Self {
        Self {
            source: Source::Env,
            no_proxy: None,
        }
    }

    /// No proxy at all, whatever the environment says.
    pub fn none() -> Self {
        Self {
            source: Source::Disabled,
            no_proxy: None,
        }
    }

    /// This proxy for every `https` destination (but loopback and the [`no_proxy`] hosts);
    /// the environment is not read. The URL is checked by
    /// [`ClientBuilder::build`](crate::ClientBuilder::build).
    ///
    /// [`no_proxy`]: Self::no_proxy
    pub fn url(url: impl Into<String>) -> Self {
        Self {
            source: Source::Url(url.into()),
            no_proxy: None,
        }
    }

    /// Hosts that never go through the proxy, in `NO_PROXY` syntax (e.g.
    /// `"internal.example, .corp.example, 10.0.0.0/8"`): for [`url`](Self::url), the only
    /// exclusions; for [`from_env`](Self::from_env), added to `NO_PROXY`'s.
    pub fn no_proxy(mut self, hosts: impl Into<String>) -> Self {
        self.no_proxy = Some(hosts.into());
        self
    }

    /// The proxy rules for a client, reading the process environment if asked to.
    pub(crate) fn resolve(&self) -> Result<Option<ProxyRules>, Error> {
        self.resolve_with(|name| std::env::var(name).ok())
    }

    /// [`resolve`](Self::resolve) over any source of variables: tests use a map, so that they
    /// never touch the process-wide environment.
    pub(crate) fn resolve_with(
        &self,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<ProxyRules>, Error> {
        let first = |names: &[&'static str]| {
            names.iter().find_map(|&name| {
                var(name)
                    .filter(|v| !v.trim().is_empty())
                    .map(|v| (name, v))
            })
        };
        let (origin, url, mut no_proxy) = match &self.source {
            Source::Disabled => return Ok(None),
            Source::Url(url) => ("Proxy::url", url.clone(), String::new()),
            Source::Env => match first(&PROXY_VARS) {
                None => return Ok(None),
                Some((name, url)) => (
                    name,
                    url,
                    first(&NO_PROXY_VARS).map(|(_, v)| v).unwrap_or_default(),
                ),
            },
        };
        if let Some(extra) = &self.no_proxy {
            if !no_proxy.is_empty() {
                no_proxy.push(',');
            }
            no_proxy.push_str(extra);
        }
        let url = url.trim();
        check_url(url, origin)?;
        // hyper-util parses the URL again (and takes the credentials out of it); make sure
        // it understood it, rather than silently going direct.
        let probe = Uri::from_static("https://api.clerk.com/");
        if Matcher::builder()
            .https(url)
            .build()
            .intercept(&probe)
            .is_none()
        {
            return Err(Error::config(format!(
                "{origin}: the proxy URL could not be used (expected \
                 http://[user:password@]host[:port])"
            )));
        }
        Ok(Some(ProxyRules {
            matcher: Arc::new(Matcher::builder().https(url).no(no_proxy).build()),
        }))
    }
}

/// Refuses, with a message that never repeats the URL (it may hold credentials), what the
/// tunnel cannot use.
fn check_url(url: &str, origin: &str) -> Result<(), Error> {
    let bad = |why: &str| Err(Error::config(format!("{origin}: {why}")));
    let Ok(uri) = url.parse::<Uri>() else {
        return bad(
            "the proxy URL is not a valid URL (expected http://[user:password@]host[:port])",
        );
    };
    match uri.scheme_str() {
        None | Some("http") => {}
        Some("https") => {
            return bad(
                "https:// proxy URLs (TLS to the proxy itself) are not supported; use the \
                 proxy's http:// URL: the tunnel to Clerk is encrypted end to end either way",
            )
        }
        Some(s) if s.starts_with("socks") => {
            return bad("SOCKS proxies are not supported; use an http:// (CONNECT) proxy")
        }
        Some(_) => return bad("unsupported proxy URL scheme; use an http:// (CONNECT) proxy URL"),
    }
    if uri.host().is_none_or(str::is_empty) {
        return bad("the proxy URL has no host");
    }
    Ok(())
}

/// The resolved proxy rules of a client: which destinations go through which proxy.
#[derive(Clone)]
pub(crate) struct ProxyRules {
    matcher: Arc<Matcher>,
}

impl ProxyRules {
    /// The proxy for a connection to `dst`, or `None` to connect directly: loopback and
    /// excluded hosts go direct, and so does plain http.
    pub(crate) fn intercept(&self, dst: &Uri) -> Option<Intercept> {
        if dst.host().is_none_or(is_loopback) {
            return None;
        }
        self.matcher.intercept(dst)
    }
}

impl fmt::Debug for ProxyRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // hyper-util's Debug shows the proxy's URI without credentials.
        f.debug_struct("ProxyRules")
            .field("matcher", &self.matcher)
            .finish()
    }
}

/// `localhost` (and its subdomains, RFC 6761), `127.0.0.0/8` and `::1`.
fn is_loopback(host: &str) -> bool {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let host = host.strip_suffix('.').unwrap_or(host);
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return ip.is_loopback();
    }
    host.eq_ignore_ascii_case("localhost")
        || host
            .len()
            .checked_sub(".localhost".len())
            .and_then(|start| host.get(start..))
            .is_some_and(|tail| tail.eq_ignore_ascii_case(".localhost"))
}

/// The URL with any `user:password@` replaced, for `Debug`.
fn redacted(url: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i.saturating_add(3));
    let (head, rest) = url.split_at(after_scheme);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rfind('@') {
        Some(at) => format!(
            "{head}[redacted]@{}{tail}",
            authority.get(at.saturating_add(1)..).unwrap_or("")
        ),
        None => url.to_owned(),
    }
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Proxy");
        match &self.source {
            Source::Env => d.field("source", &"environment"),
            Source::Disabled => d.field("source", &"none"),
            Source::Url(url) => d.field("url", &redacted(url)),
        };
        d.field("no_proxy", &self.no_proxy).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    /// Where a connection to `dst` goes: `Some(proxy URI)` or `None` for direct.
    fn route(proxy: &Proxy, env: &[(&str, &str)], dst: &str) -> Option<String> {
        let rules = proxy.resolve_with(vars(env)).unwrap()?;
        rules
            .intercept(&dst.parse().unwrap())
            .map(|i| i.uri().to_string())
    }

    fn config_error(proxy: &Proxy, env: &[(&str, &str)]) -> String {
        match proxy.resolve_with(vars(env)) {
            Err(Error::Config(c)) => c.message().to_owned(),
            Err(other) => panic!("expected Error::Config, got {other:?}"),
            Ok(rules) => panic!("expected Error::Config, got {rules:?}"),
        }
    }

    const CLERK: &str = "https://api.clerk.com/v1/allowlist_identifiers";

    #[test]
    fn the_environment_gives_the_proxy_and_its_exclusions() {
        let env = Proxy::from_env();
        assert_eq!(route(&env, &[], CLERK), None, "nothing set: direct");
        let proxied = Some("http://proxy.corp:3128/".to_owned());
        assert_eq!(
            route(&env, &[("HTTPS_PROXY", "http://proxy.corp:3128")], CLERK),
            proxied
        );
        assert_eq!(
            route(&env, &[("https_proxy", "proxy.corp:3128")], CLERK),
            proxied,
            "lower case, and no scheme means http"
        );
        assert_eq!(
            route(&env, &[("ALL_PROXY", "http://proxy.corp:3128")], CLERK),
            proxied
        );
        assert_eq!(
            route(
                &env,
                &[
                    ("HTTPS_PROXY", " "),
                    ("all_proxy", "http://proxy.corp:3128")
                ],
                CLERK
            ),
            proxied,
            "an empty variable counts as unset"
        );
        assert_eq!(
            route(&env, &[("HTTP_PROXY", "http://proxy.corp:3128")], CLERK),
            None,
            "HTTP_PROXY is for http, which only goes to loopback"
        );
        let with_no = |no: &str| {
            route(
                &env,
                &[("HTTPS_PROXY", "http://proxy.corp:3128"), ("NO_PROXY", no)],
                CLERK,
            )
        };
        assert_eq!(with_no("clerk.com"), None, "a domain covers its subdomains");
        assert_eq!(with_no(".CLERK.com"), None, "case-insensitive, leading dot");
        assert_eq!(with_no("*"), None);
        assert_eq!(with_no("example.com, 10.0.0.0/8"), proxied);
        assert_eq!(with_no("lerk.com"), proxied, "not a suffix match");
        assert_eq!(
            route(
                &env.clone().no_proxy("api.clerk.com"),
                &[
                    ("HTTPS_PROXY", "http://proxy.corp:3128"),
                    ("NO_PROXY", "a.b")
                ],
                CLERK
            ),
            None,
            "Proxy::no_proxy adds to NO_PROXY"
        );
    }

    #[test]
    fn loopback_and_plain_http_never_go_through_a_proxy() {
        let env = [("HTTPS_PROXY", "http://proxy.corp:3128")];
        for dst in [
            "https://localhost:8443/v1",
            "https://LOCALHOST./v1",
            "https://api.localhost/v1",
            "https://127.0.0.1:8443/v1",
            "https://127.8.9.10/v1",
            "https://[::1]:8443/v1",
            "http://127.0.0.1:8787/v1",
        ] {
            assert_eq!(route(&Proxy::from_env(), &env, dst), None, "{dst}");
            assert_eq!(
                route(&Proxy::url("http://proxy.corp:3128"), &[], dst),
                None,
                "{dst}"
            );
        }
        for dst in ["https://localhost.example/v1", "https://127.example/v1"] {
            assert!(route(&Proxy::from_env(), &env, dst).is_some(), "{dst}");
        }
    }

    #[test]
    fn an_explicit_proxy_ignores_the_environment() {
        let env = [
            ("HTTPS_PROXY", "http://from-env:1"),
            ("NO_PROXY", "api.clerk.com"),
        ];
        assert_eq!(
            route(&Proxy::url("http://explicit:3128"), &env, CLERK),
            Some("http://explicit:3128/".to_owned())
        );
        assert_eq!(
            route(
                &Proxy::url("http://explicit:3128").no_proxy("clerk.com"),
                &env,
                CLERK
            ),
            None
        );
        assert_eq!(route(&Proxy::none(), &env, CLERK), None);
    }

    #[test]
    fn credentials_become_basic_auth_and_are_never_shown() {
        let proxy = Proxy::url("http://ada%40corp:s3cr%3At@proxy.corp:3128");
        let rules = proxy.resolve_with(vars(&[])).unwrap().unwrap();
        let intercept = rules.intercept(&CLERK.parse().unwrap()).unwrap();
        assert_eq!(intercept.uri().to_string(), "http://proxy.corp:3128/");
        let auth = intercept.basic_auth().unwrap();
        // base64("ada@corp:s3cr:t")
        assert_eq!(auth.to_str().unwrap(), "Basic YWRhQGNvcnA6czNjcjp0");
        assert!(auth.is_sensitive());
        for shown in [format!("{proxy:?}"), format!("{rules:?}")] {
            assert!(!shown.contains("s3cr"), "{shown}");
            assert!(!shown.contains("ada"), "{shown}");
            assert!(!shown.contains("YWRh"), "{shown}");
        }
        assert_eq!(
            format!("{proxy:?}"),
            r#"Proxy { url: "http://[redacted]@proxy.corp:3128", no_proxy: None }"#
        );
        assert_eq!(
            redacted("u:p@host:1/path?q=a@b"),
            "[redacted]@host:1/path?q=a@b"
        );
        assert_eq!(redacted("http://host:1"), "http://host:1");
    }

    #[test]
    fn unusable_proxy_urls_are_config_errors_that_never_echo_credentials() {
        for (url, expected) in [
            ("https://user:hunter2@proxy.corp:443", "https:// proxy URLs"),
            ("socks5://user:hunter2@proxy.corp:1080", "SOCKS"),
            ("socks5h://proxy.corp:1080", "SOCKS"),
            (
                "ftp://user:hunter2@proxy.corp",
                "unsupported proxy URL scheme",
            ),
            ("http://user:hunter2@proxy corp:3128", "not a valid URL"),
            ("http://user:hunter2@", "not a valid URL"),
            ("http:///path", "not a valid URL"),
        ] {
            let message = config_error(&Proxy::url(url), &[]);
            assert!(message.contains(expected), "{url}: {message}");
            assert!(message.contains("Proxy::url"), "{url}: {message}");
            assert!(!message.contains("hunter2"), "{url}: {message}");
            let message = config_error(&Proxy::from_env(), &[("https_proxy", url)]);
            assert!(message.starts_with("https_proxy: "), "{url}: {message}");
            assert!(!message.contains("hunter2"), "{url}: {message}");
        }
    }
}
