//! `clerk-mock`: the crate's in-memory Clerk Backend API (allow-list resource) as a standalone
//! HTTP server, for trying the client (or any other Clerk SDK) without a Clerk account.
//!
//! See `docs/clerk-mock.md` for the flags and the fault plan format.

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clerk_tower::mock::{FaultPlan, MockClerk, RecordedRequest};
use serde::Deserialize;

const USAGE: &str = "\
clerk-mock: an in-memory Clerk Backend API (allow-list identifiers) for local development and tests

USAGE:
    clerk-mock [OPTIONS]

OPTIONS:
    --addr HOST:PORT      Address to listen on [default: 127.0.0.1:8787] (port 0 picks a free port)
    --secret-key KEY      Accept only this secret key [default: accept any key starting with sk_test_]
    --preload FILE        JSON array of identifiers to start with: [\"a@example.com\", ...]
                          or [{\"identifier\": \"a@example.com\", \"notify\": true}, ...]
    --faults FILE         Fault plan (JSON) to inject errors, delays and dropped connections
    --seed N              Make ids and trace ids deterministic
    -h, --help            Print this help
    -V, --version         Print the version

Point a Clerk SDK at http://HOST:PORT/v1 with any sk_test_ key (or the one given with --secret-key).
Routes: GET/POST /v1/allowlist_identifiers, DELETE /v1/allowlist_identifiers/{id}.
Each request is logged on stderr; Ctrl-C stops the server.
";

#[derive(Debug, Default)]
struct Args {
    addr: Option<String>,
    secret_key: Option<String>,
    preload: Option<PathBuf>,
    faults: Option<PathBuf>,
    seed: Option<u64>,
}

enum Parsed {
    Run(Args),
    Help,
    Version,
}

fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Parsed, String> {
    let mut args = Args::default();
    while let Some(arg) = argv.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            match inline.clone().or_else(|| argv.next()) {
                Some(v) if !v.is_empty() => Ok(v),
                _ => Err(format!("{name} needs a value")),
            }
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help),
            "-V" | "--version" => return Ok(Parsed::Version),
            "--addr" => args.addr = Some(value("--addr")?),
            "--secret-key" => args.secret_key = Some(value("--secret-key")?),
            "--preload" => args.preload = Some(PathBuf::from(value("--preload")?)),
            "--faults" => args.faults = Some(PathBuf::from(value("--faults")?)),
            "--seed" => {
                let raw = value("--seed")?;
                args.seed = Some(
                    raw.parse()
                        .map_err(|_| format!("--seed: not a number: {raw}"))?,
                );
            }
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    Ok(Parsed::Run(args))
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
    let addr = resolve(args.addr.as_deref().unwrap_or("127.0.0.1:8787"))?;
    let mut mock = match &args.secret_key {
        Some(key) => MockClerk::with_secret_key(key.clone()),
        None => MockClerk::new().accept_any_test_key(),
    };
    // The log only feeds `on_request`; keep little of it in memory.
    mock = mock.with_request_log_limit(1000);
    if let Some(seed) = args.seed {
        mock = mock.with_seed(seed);
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

async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Parsed::Run(args)) => args,
        Ok(Parsed::Help) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::Version) => {
            println!("clerk-mock {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("clerk-mock: {message}\n\nRun `clerk-mock --help` for usage.");
            return ExitCode::from(2);
        }
    };
    let (mock, addr) = match build(&args) {
        Ok(built) => built,
        Err(message) => {
            eprintln!("clerk-mock: {message}");
            return ExitCode::from(2);
        }
    };
    mock.on_request(|request, elapsed| {
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "{}", log_line(request, elapsed));
    });
    let server = match mock.serve_on(addr).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("clerk-mock: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("clerk-mock listening on {}", server.base_url());
    let _ = std::io::stdout().flush();
    let loaded = mock.identifiers().len();
    if loaded > 0 {
        eprintln!("clerk-mock: {loaded} identifier(s) preloaded");
    }
    wait_for_stop().await;
    server.shutdown().await;
    eprintln!("clerk-mock: stopped");
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Parsed, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn flags() {
        let Ok(Parsed::Run(args)) = parse(&[
            "--addr",
            "0.0.0.0:9",
            "--secret-key=sk_test_x",
            "--seed",
            "3",
        ]) else {
            panic!("should parse");
        };
        assert_eq!(args.addr.as_deref(), Some("0.0.0.0:9"));
        assert_eq!(args.secret_key.as_deref(), Some("sk_test_x"));
        assert_eq!(args.seed, Some(3));
        assert!(matches!(parse(&["--help"]), Ok(Parsed::Help)));
        assert!(matches!(parse(&["-V"]), Ok(Parsed::Version)));
        assert!(parse(&["--bogus"]).is_err());
        assert!(parse(&["--addr"]).is_err());
        assert!(parse(&["--addr="]).is_err());
        assert!(parse(&["--seed", "x"]).is_err());
        assert!(parse(&["stray"]).is_err());
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
