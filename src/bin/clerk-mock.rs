//! `clerk-mock`: the crate's in-memory Clerk Backend API (every operation of Clerk's spec; the
//! allow-list, block-list, restrictions and users with state) as a standalone HTTP server, for
//! trying the client (or any other Clerk SDK) without a Clerk account.
//!
//! See `docs/clerk-mock.md` for the flags and the fault plan format.

use std::future::Future;
use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::pin::Pin;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use clerk_tower::mock::{FaultPlan, LogSink, MockClerk, MockServer, RecordedRequest};
use serde::Deserialize;

const AFTER_HELP: &str = "\
Point a Clerk SDK at the printed URL (http://HOST:PORT/v1) with any sk_test_ key (or the one given
with --secret-key). Every operation of Clerk's Backend API spec answers: the allow-list
(/v1/allowlist_identifiers), block-list (/v1/blocklist_identifiers), PATCH /v1/instance/restrictions
and users (/v1/users...) keep state in memory; every other operation is validated against the spec
and answered with a generated instance of its response schema. GET /v1/jwks serves the test key.

Each request is logged on stderr; when stderr does not keep up, log lines are dropped (and
counted), never requests. Ctrl-C or SIGTERM stops the server.";

/// How long the end of the program waits for the log to be written out.
const FINAL_FLUSH: Duration = Duration::from_secs(1);

/// clerk-mock: an in-memory Clerk Backend API (every operation of Clerk's spec) for local
/// development and tests
#[derive(Debug, Parser)]
#[command(name = "clerk-mock", version, after_help = AFTER_HELP)]
struct Args {
    /// Address to listen on.
    #[arg(
        long,
        value_name = "HOST:PORT",
        default_value = "127.0.0.1:8787",
        value_parser = non_empty,
        help = "Address to listen on; port 0 picks a free port, 0.0.0.0 or [::] listens on every \
                interface (the printed URL then names 127.0.0.1 or [::1])"
    )]
    addr: String,

    /// Accept only this secret key [default: any key starting with sk_test_]
    #[arg(long, value_name = "KEY", value_parser = non_empty)]
    secret_key: Option<String>,

    /// Identifiers to start with.
    #[arg(
        long,
        value_name = "FILE",
        help = "JSON array of identifiers to start with: [\"a@example.com\", ...] or \
                [{\"identifier\": \"a@example.com\", \"notify\": true}, ...]"
    )]
    preload: Option<PathBuf>,

    /// Fault plan (JSON) to inject errors, delays and dropped connections
    #[arg(long, value_name = "FILE")]
    faults: Option<PathBuf>,

    /// Make ids and trace ids deterministic
    #[arg(long, value_name = "N")]
    seed: Option<u64>,

    /// How long a request body may take to arrive once the head is in; then the answer is a
    /// 408 and the connection is closed (e.g. 10s, 1.5s, 500ms)
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_timeout)]
    body_timeout: Duration,

    /// How long a request head may take to arrive, and a keep-alive connection may stay idle;
    /// then the connection is closed
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_timeout)]
    header_timeout: Duration,

    /// Enforce Clerk's rate limit: at most N requests in any DURATION (e.g. 100/10s for a
    /// development key, 1000/10s for a production key, 100/100ms to run faster); past that,
    /// 429 with Retry-After
    #[arg(long, value_name = "N/DURATION", value_parser = parse_rate_limit)]
    rate_limit: Option<(u32, Duration)>,
}

fn non_empty(raw: &str) -> Result<String, String> {
    if raw.is_empty() {
        Err("must not be empty".to_owned())
    } else {
        Ok(raw.to_owned())
    }
}

/// A timeout: a number of seconds (`10`, `1.5`), with an optional `s` or `ms` unit; more than
/// zero and at most 24 hours.
fn parse_timeout(raw: &str) -> Result<Duration, String> {
    let expected = "expected a duration such as 10s, 1.5s or 500ms";
    let (number, per_second) = match raw.strip_suffix("ms") {
        Some(number) => (number, 1000.0),
        None => (raw.strip_suffix('s').unwrap_or(raw), 1.0),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{expected}, not {raw:?}"))?;
    let timeout = Duration::try_from_secs_f64(value / per_second)
        .map_err(|_| format!("{expected}, not {raw:?}"))?;
    if timeout.is_zero() || timeout > MockClerk::MAX_TIMEOUT {
        return Err(format!(
            "must be more than zero and at most 24 hours, not {raw:?}"
        ));
    }
    Ok(timeout)
}

/// A rate limit: `N/DURATION`, N in 1..=1,000,000, DURATION as for the timeouts.
fn parse_rate_limit(raw: &str) -> Result<(u32, Duration), String> {
    let expected = "expected N/DURATION such as 100/10s or 1000/10s";
    let (count, window) = raw
        .split_once('/')
        .ok_or_else(|| format!("{expected}, not {raw:?}"))?;
    let limit: u32 = count
        .trim()
        .parse()
        .map_err(|_| format!("{expected}, not {raw:?}"))?;
    if limit == 0 || limit > MockClerk::MAX_RATE_LIMIT {
        return Err(format!(
            "the limit must be 1 to {}, not {raw:?}",
            MockClerk::MAX_RATE_LIMIT
        ));
    }
    let window = parse_timeout(window.trim())?;
    Ok((limit, window))
}

/// One entry of a `--preload` file.
#[derive(Deserialize)]
#[serde(untagged)]
enum PreloadEntry {
    Plain(String),
    Full {
        identifier: String,
        #[serde(default)]
        notify: bool,
    },
}

fn resolve(addr: &str) -> Result<SocketAddr, String> {
    addr.to_socket_addrs()
        .map_err(|e| format!("--addr {addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("--addr {addr}: no address"))
}

fn read_json<T: for<'de> Deserialize<'de>>(flag: &str, path: &PathBuf) -> Result<T, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("{flag} {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{flag} {}: {e}", path.display()))
}

/// Builds the mock from the arguments; every error is a usage error (exit code 2).
fn build(args: &Args) -> Result<(MockClerk, SocketAddr), String> {
    let addr = resolve(&args.addr)?;
    let mut mock = match &args.secret_key {
        Some(key) => MockClerk::with_secret_key(key.clone()),
        None => MockClerk::new().accept_any_test_key(),
    };
    // Nothing here reads the request log (the log hook gets each request directly): keep
    // none of it.
    mock = mock
        .with_request_log_limit(0)
        .with_body_timeout(args.body_timeout)
        .and_then(|mock| mock.with_header_timeout(args.header_timeout))
        .map_err(|e| e.to_string())?;
    if let Some(seed) = args.seed {
        mock = mock.with_seed(seed);
    }
    if let Some((limit, window)) = args.rate_limit {
        mock = mock
            .with_rate_limit(limit, window)
            .map_err(|e| format!("--rate-limit: {e}"))?;
    }
    if let Some(path) = &args.preload {
        let entries: Vec<PreloadEntry> = read_json("--preload", path)?;
        for (i, entry) in entries.into_iter().enumerate() {
            let (identifier, notify) = match entry {
                PreloadEntry::Plain(identifier) => (identifier, false),
                PreloadEntry::Full { identifier, notify } => (identifier, notify),
            };
            mock.insert_with(&identifier, notify)
                .map_err(|e| format!("--preload {}: entry {i}: {e}", path.display()))?;
        }
    }
    if let Some(path) = &args.faults {
        let plan: FaultPlan = read_json("--faults", path)?;
        mock.set_fault_plan(plan);
    }
    Ok((mock, addr))
}

/// What clerk-mock prints on stdout once it accepts connections: the base URL, and a second
/// line when it listens on every interface (where the URL names the loopback address).
fn banner(base_url: &str, bound: SocketAddr) -> Vec<String> {
    let mut lines = vec![format!("clerk-mock listening on {base_url}")];
    if bound.ip().is_unspecified() {
        lines.push(format!(
            "clerk-mock: bound to {bound}: it listens on every interface; other hosts use this \
             host's address and port {} (clerk-tower takes plain http only to loopback)",
            bound.port()
        ));
    }
    lines
}

fn log_line(request: &RecordedRequest, elapsed: Duration) -> String {
    let status = request
        .status
        .map_or_else(|| "---".to_owned(), |s| s.as_u16().to_string());
    let mut line = format!(
        "{} {} {} {:.1}ms",
        request.method,
        request.path_and_query(),
        status,
        elapsed.as_secs_f64() * 1000.0
    );
    if let Some(fault) = &request.fault {
        line.push_str(&format!(" fault={}", fault.label()));
    }
    line
}

/// A future that ends on Ctrl-C or SIGTERM. The handlers are installed by this call, not when
/// the future is first polled: a signal sent right after the banner is printed stops the
/// server cleanly instead of killing the process.
fn stop_signal() -> Pin<Box<dyn Future<Output = ()> + Send>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let (Ok(mut term), Ok(mut interrupt)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            return Box::pin(async move {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = interrupt.recv() => {}
                }
            });
        }
    }
    Box::pin(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// Writes to stderr directly, ignoring errors: for the messages before the log thread runs.
fn report(message: &str) {
    let _ = writeln!(std::io::stderr(), "{message}");
}

/// `--help` and `--version` (printed on stdout) exit with 0, usage errors (on stderr) with 2.
fn usage_exit_code(err: &clap::Error) -> ExitCode {
    if err.use_stderr() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

fn main() -> ExitCode {
    // `try_parse` reads the arguments as `OsString`s: one that is not UTF-8 is a usage error
    // like any other, never a panic.
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(err) => {
            let _ = err.print();
            return usage_exit_code(&err);
        }
    };
    let (mock, addr) = match build(&args) {
        Ok(built) => built,
        Err(message) => {
            report(&format!("clerk-mock: {message}"));
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            report(&format!("clerk-mock: cannot start the runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    // From here on stderr is written by the log thread only: a stderr that nobody reads
    // costs log lines, never a request, nor the shutdown.
    let log = match LogSink::new(std::io::stderr()) {
        Ok(log) => log,
        Err(e) => {
            report(&format!("clerk-mock: cannot start the log thread: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(run(mock, addr, &log));
    runtime.shutdown_timeout(FINAL_FLUSH);
    let dropped = log.dropped();
    if dropped > 0 {
        log.line(format!(
            "clerk-mock: {dropped} log line(s) dropped in all: stderr did not keep up"
        ));
    }
    log.flush(FINAL_FLUSH);
    code
}

async fn run(mock: MockClerk, addr: SocketAddr, log: &LogSink) -> ExitCode {
    let stop = stop_signal();
    let hook_log = log.clone();
    mock.on_request(move |request, elapsed| hook_log.line(log_line(request, elapsed)));
    let server: MockServer = match mock.serve_on(addr).await {
        Ok(server) => server,
        Err(e) => {
            log.line(format!("clerk-mock: cannot listen on {addr}: {e}"));
            return ExitCode::FAILURE;
        }
    };
    {
        let mut stdout = std::io::stdout().lock();
        for line in banner(&server.base_url(), server.addr()) {
            let _ = writeln!(stdout, "{line}");
        }
        let _ = stdout.flush();
    }
    let loaded = mock.identifiers().len();
    if loaded > 0 {
        log.line(format!("clerk-mock: {loaded} identifier(s) preloaded"));
    }
    stop.await;
    server.shutdown().await;
    log.line("clerk-mock: stopped");
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("clerk-mock").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_is_well_formed() {
        Args::command().debug_assert();
    }

    #[test]
    fn flags() {
        let args = parse(&[
            "--addr",
            "0.0.0.0:9",
            "--secret-key=sk_test_x",
            "--seed",
            "3",
            "--body-timeout",
            "250ms",
        ])
        .unwrap();
        assert_eq!(args.addr, "0.0.0.0:9");
        assert_eq!(args.secret_key.as_deref(), Some("sk_test_x"));
        assert_eq!(args.seed, Some(3));
        assert_eq!(args.body_timeout, Duration::from_millis(250));
        assert_eq!(args.header_timeout, Duration::from_secs(30));

        let defaults = parse(&[]).unwrap();
        assert_eq!(defaults.addr, "127.0.0.1:8787");
        assert_eq!(defaults.body_timeout, MockClerk::DEFAULT_BODY_TIMEOUT);
        assert_eq!(defaults.header_timeout, MockClerk::DEFAULT_HEADER_TIMEOUT);

        let kind = |args: &[&str]| parse(args).map(|_| ()).unwrap_err().kind();
        assert_eq!(kind(&["--help"]), clap::error::ErrorKind::DisplayHelp);
        assert_eq!(
            usage_exit_code(&parse(&["--help"]).map(|_| ()).unwrap_err()),
            ExitCode::SUCCESS
        );
        assert_eq!(kind(&["-V"]), clap::error::ErrorKind::DisplayVersion);
        for bad in [
            &["--bogus"][..],
            &["--addr"],
            &["--addr="],
            &["--secret-key="],
            &["--seed", "x"],
            &["--seed", "-1"],
            &["stray"],
            &["--body-timeout", "0"],
            &["--header-timeout", "25h"],
        ] {
            let err = parse(bad).map(|_| ()).unwrap_err();
            assert!(err.use_stderr(), "{bad:?}: {err}");
            assert_eq!(usage_exit_code(&err), ExitCode::from(2), "{bad:?}: {err}");
        }
    }

    #[test]
    fn rate_limits() {
        let ok = |raw: &str| parse_rate_limit(raw).unwrap();
        assert_eq!(ok("100/10s"), (100, Duration::from_secs(10)));
        assert_eq!(ok("1000/10"), (1000, Duration::from_secs(10)));
        assert_eq!(ok("100/100ms"), (100, Duration::from_millis(100)));
        for bad in [
            "",
            "100",
            "/10s",
            "0/10s",
            "-1/10s",
            "100/0s",
            "100/",
            "x/10s",
            "2000000/1s",
        ] {
            assert!(parse_rate_limit(bad).is_err(), "{bad:?}");
        }
        let args = parse(&["--rate-limit", "100/10s"]).unwrap();
        assert_eq!(args.rate_limit, Some((100, Duration::from_secs(10))));
        assert!(parse(&[]).unwrap().rate_limit.is_none());
    }

    #[test]
    fn timeouts() {
        let ok = |raw: &str| parse_timeout(raw).unwrap();
        assert_eq!(ok("10"), Duration::from_secs(10));
        assert_eq!(ok("10s"), Duration::from_secs(10));
        assert_eq!(ok("1.5s"), Duration::from_millis(1500));
        assert_eq!(ok("200ms"), Duration::from_millis(200));
        assert_eq!(ok("86400s"), MockClerk::MAX_TIMEOUT);
        for bad in [
            "", "s", "ms", "0", "0ms", "-1s", "86401", "1e300", "inf", "NaN", "10m", "ten", "1 h",
        ] {
            assert!(parse_timeout(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_banner_names_a_loopback_url_and_says_when_it_listens_everywhere() {
        let local: SocketAddr = "127.0.0.1:8787".parse().unwrap();
        assert_eq!(
            banner("http://127.0.0.1:8787/v1", local),
            vec!["clerk-mock listening on http://127.0.0.1:8787/v1"]
        );
        let every: SocketAddr = "0.0.0.0:8787".parse().unwrap();
        let lines = banner("http://127.0.0.1:8787/v1", every);
        assert_eq!(lines[0], "clerk-mock listening on http://127.0.0.1:8787/v1");
        assert!(lines[1].contains("0.0.0.0:8787") && lines[1].contains("every interface"));
        let every6: SocketAddr = "[::]:8787".parse().unwrap();
        assert!(banner("http://[::1]:8787/v1", every6)[1].contains("every interface"));
    }

    #[test]
    fn preload_accepts_both_shapes() {
        let entries: Vec<PreloadEntry> =
            serde_json::from_str(r#"["a@example.com", {"identifier": "+15555550100", "notify": true}, {"identifier": "b@example.com"}]"#)
                .unwrap();
        assert_eq!(entries.len(), 3);
        assert!(matches!(
            &entries[1],
            PreloadEntry::Full { notify: true, .. }
        ));
        assert!(serde_json::from_str::<Vec<PreloadEntry>>(r#"[{"id": 1}]"#).is_err());
    }
}
