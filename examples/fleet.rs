//! The fleet benchmark behind `docs/benchmarks.md` ("One rate limit for a fleet"): several
//! processes, each with several concurrent callers, against `clerk-mock --rate-limit`, paced
//! by one shared limiter in Redis or by a local limiter each; then the cost of the Redis round
//! trip per request, against a call to the mock.
//!
//! ```text
//! cargo build --release --features redis,mock,clerk-mock --bin clerk-mock --example fleet
//! target/release/examples/fleet --limit 100/1s --duration 20 --processes 4 --callers 8
//! ```
//!
//! It starts `clerk-mock` (beside it in `target/release`) and `redis-server` (the Debian
//! package) on free loopback ports for each scenario, runs the processes (copies of itself)
//! from a common start instant, and prints one Markdown row per scenario. Calls are not
//! retried, so that every 429 is counted once; only calls that end within the run count.
//!
//! Not a test and not in the default build (`required-features = ["redis", "mock"]`).

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clerk_tower::layer::{RateLimitConfig, RateLimitLayer, RedisConfig};
use clerk_tower::{Client, RetryConfig};
use tokio::time::Instant;

const KEY: &str = "sk_test_fleet_benchmark";

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> Fallible<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("child") => child(&args[1..]),
        Some("rtt") => rtt(&args[1..]),
        _ => parent(&args),
    }
}

/// `--name value` from `args`.
fn arg<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

fn num<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> Fallible<T> {
    match arg(args, name) {
        Some(v) => v
            .parse()
            .map_err(|_| format!("{name}: not a number: {v}").into()),
        None => Ok(default),
    }
}

fn parse_limit(raw: &str) -> Fallible<(u32, Duration)> {
    let (n, w) = raw
        .split_once('/')
        .ok_or("--limit: N/DURATION, e.g. 100/1s")?;
    let window = match w.strip_suffix("ms") {
        Some(ms) => Duration::from_millis(ms.parse()?),
        None => Duration::from_secs(w.trim_end_matches('s').parse()?),
    };
    Ok((n.parse()?, window))
}

fn free_port() -> Fallible<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin", "/usr/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A child process killed when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `clerk-mock` on a free port (with `--rate-limit` when given); its base URL.
fn start_mock(bin: &Path, rate_limit: Option<&str>) -> Fallible<(Guard, String)> {
    let mut cmd = Command::new(bin);
    cmd.args(["--addr", "127.0.0.1:0"]);
    if let Some(limit) = rate_limit {
        cmd.args(["--rate-limit", limit]);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("clerk-mock: no stdout")?;
    let guard = Guard(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .ok_or_else(|| format!("clerk-mock said: {line}"))?
        .to_owned();
    Ok((guard, url))
}

/// `redis-server` on a free port, without persistence; its URL.
fn start_redis(bin: &Path) -> Fallible<(Guard, String)> {
    let port = free_port()?;
    let child = Command::new(bin)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let guard = Guard(child);
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok((guard, format!("redis://127.0.0.1:{port}/")));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err("redis-server did not start".into())
}

#[derive(Clone, Copy)]
enum Mode {
    Shared,
    /// A local limiter at this percent of the limit in each process.
    Local(u32),
}

#[derive(Clone, Copy)]
enum Load {
    /// Every caller of every process calls back to back.
    Even,
    /// Process 0 calls back to back; the callers of the others wait `think` between calls.
    Uneven,
}

#[derive(Default, Debug)]
struct Counts {
    ok: u64,
    limited: u64,
    errors: u64,
    fallbacks: u64,
}

fn parent(args: &[String]) -> Fallible<()> {
    let (limit, window) = parse_limit(arg(args, "--limit").unwrap_or("100/1s"))?;
    let duration = Duration::from_secs(num(args, "--duration", 20)?);
    let processes: usize = num(args, "--processes", 4)?;
    let callers: usize = num(args, "--callers", 8)?;
    let think = Duration::from_millis(num(args, "--think-ms", 2000)?);
    let headroom: Option<u32> = arg(args, "--headroom").map(str::parse).transpose()?;
    let exe = std::env::current_exe()?;
    let release = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("cannot locate the target directory")?;
    let mock_bin = release.join("clerk-mock");
    if !mock_bin.is_file() {
        return Err(format!(
            "{} is missing: cargo build --release --features redis,mock,clerk-mock --bin clerk-mock --example fleet",
            mock_bin.display()
        )
        .into());
    }
    let redis_bin = find("redis-server").ok_or("redis-server is not installed")?;
    let rate = format!("{limit}/{}ms", window.as_millis());
    let windows = duration.as_secs_f64() / window.as_secs_f64();
    let capacity = f64::from(limit) * windows;
    println!(
        "{processes} processes x {callers} callers, {} s, clerk-mock --rate-limit {rate} \
         (capacity {capacity:.0} calls); light processes wait {} ms between calls; headroom {}\n",
        duration.as_secs(),
        think.as_millis(),
        headroom.map_or(
            "default (1 % of each limiter's limit, at least 1)".to_owned(),
            |h| h.to_string()
        )
    );
    println!(
        "| limiters | load | calls that succeeded | rate, % of the limit | 429s | idle capacity |"
    );
    println!("|---|---|---|---|---|---|");
    let scenarios = [
        ("one shared (Redis)", Mode::Shared, Load::Even),
        ("4 local, full limit each", Mode::Local(100), Load::Even),
        ("4 local, a quarter each", Mode::Local(25), Load::Uneven),
        ("one shared (Redis)", Mode::Shared, Load::Uneven),
    ];
    for (name, mode, load) in scenarios {
        let (_mock, url) = start_mock(&mock_bin, Some(&rate))?;
        let redis = match mode {
            Mode::Shared => Some(start_redis(&redis_bin)?),
            Mode::Local(_) => None,
        };
        let start_at = SystemTime::now().duration_since(UNIX_EPOCH)? + Duration::from_millis(500);
        let mut children = Vec::new();
        for p in 0..processes {
            let mut cmd = Command::new(&exe);
            cmd.arg("child")
                .args(["--url", &url, "--limit", &limit.to_string()])
                .args(["--window-ms", &window.as_millis().to_string()])
                .args(["--callers", &callers.to_string()])
                .args(["--duration-ms", &duration.as_millis().to_string()])
                .args(["--start-at-ms", &start_at.as_millis().to_string()]);
            let light = matches!(load, Load::Uneven) && p > 0;
            let think_ms = if light { think.as_millis() } else { 0 };
            if let Some(headroom) = headroom {
                cmd.args(["--headroom", &headroom.to_string()]);
            }
            cmd.args(["--think-ms", &think_ms.to_string()]);
            if let Some((_, redis_url)) = &redis {
                cmd.args(["--redis", redis_url]);
            } else if let Mode::Local(percent) = mode {
                cmd.args(["--percent", &percent.to_string()]);
            }
            children.push(cmd.stdout(Stdio::piped()).spawn()?);
        }
        let mut total = Counts::default();
        for child in children {
            let out = child.wait_with_output()?;
            let text = String::from_utf8_lossy(&out.stdout);
            let line = text
                .lines()
                .find(|l| l.starts_with("RESULT"))
                .ok_or_else(|| format!("a process said: {text}"))?;
            let field = |name: &str| -> u64 {
                line.split_whitespace()
                    .find_map(|kv| kv.strip_prefix(name))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0)
            };
            total.ok += field("ok=");
            total.limited += field("limited=");
            total.errors += field("errors=");
            total.fallbacks += field("fallbacks=");
        }
        let load_name = match load {
            Load::Even => "even".to_owned(),
            Load::Uneven => format!("uneven: 1 busy, {} light", processes - 1),
        };
        let per_window_rate = total.ok as f64 / windows;
        let idle = (capacity - total.ok as f64).max(0.0);
        println!(
            "| {name} | {load_name} | {} | {:.1} % ({per_window_rate:.1} per window) | {} | {:.1} % |",
            total.ok,
            100.0 * per_window_rate / f64::from(limit),
            total.limited,
            100.0 * idle / capacity,
        );
        if total.errors > 0 || total.fallbacks > 0 {
            println!(
                "(other errors: {}; switches to the fallback: {})",
                total.errors, total.fallbacks
            );
        }
    }

    // The round trip: one process, sequential calls, a local and a Redis limiter interleaved.
    let (_mock, url) = start_mock(&mock_bin, None)?;
    let (_redis, redis_url) = start_redis(&redis_bin)?;
    let status = Command::new(&exe)
        .args(["rtt", "--url", &url, "--redis", &redis_url])
        .args([
            "--iterations",
            &num::<u32>(args, "--iterations", 5000)?.to_string(),
        ])
        .status()?;
    if !status.success() {
        return Err("the round-trip measure failed".into());
    }
    Ok(())
}

fn runtime() -> Fallible<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn client(url: &str, limiter: &RateLimitLayer) -> Fallible<Client> {
    Ok(Client::builder()
        .secret_key(KEY)
        .base_url(url)
        .retry(RetryConfig::disabled())
        .timeout(Duration::from_secs(60))
        .layer(limiter.clone())
        .build()?)
}

fn child(args: &[String]) -> Fallible<()> {
    let url = arg(args, "--url").ok_or("--url")?.to_owned();
    let limit: u32 = num(args, "--limit", 100)?;
    let window = Duration::from_millis(num(args, "--window-ms", 1000)?);
    let callers: usize = num(args, "--callers", 8)?;
    let duration = Duration::from_millis(num(args, "--duration-ms", 20_000)?);
    let think = Duration::from_millis(num(args, "--think-ms", 0)?);
    let start_at = Duration::from_millis(num(args, "--start-at-ms", 0)?);
    let headroom: Option<u32> = arg(args, "--headroom").map(str::parse).transpose()?;
    let with_headroom = |config: RateLimitConfig| match headroom {
        Some(h) => config.headroom(h),
        None => config,
    };
    let limiter = match arg(args, "--redis") {
        Some(redis) => RateLimitLayer::redis(
            with_headroom(RateLimitConfig::new(limit, window)),
            RedisConfig::new(redis, KEY)?,
        )?,
        None => {
            let percent: u32 = num(args, "--percent", 100)?;
            let share = (u64::from(limit) * u64::from(percent)).div_ceil(100).max(1);
            let share = u32::try_from(share)?;
            RateLimitLayer::new(with_headroom(RateLimitConfig::new(share, window)))?
        }
    };
    let client = client(&url, &limiter)?;
    runtime()?.block_on(async move {
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?;
        tokio::time::sleep(start_at.saturating_sub(now)).await;
        let deadline = Instant::now() + duration;
        let counts: Arc<[AtomicU64; 3]> = Arc::default();
        let mut tasks = Vec::new();
        for _ in 0..callers {
            let (client, counts) = (client.clone(), counts.clone());
            tasks.push(tokio::spawn(async move {
                while Instant::now() < deadline {
                    let result = client.allowlist_identifiers().list().await;
                    if Instant::now() > deadline {
                        break;
                    }
                    let slot = match result {
                        Ok(_) => 0,
                        Err(e) if e.status() == Some(http::StatusCode::TOO_MANY_REQUESTS) => 1,
                        Err(_) => 2,
                    };
                    counts[slot].fetch_add(1, Ordering::Relaxed);
                    if !think.is_zero() {
                        tokio::time::sleep(think).await;
                    }
                }
            }));
        }
        for task in tasks {
            task.await?;
        }
        println!(
            "RESULT ok={} limited={} errors={} fallbacks={}",
            counts[0].load(Ordering::Relaxed),
            counts[1].load(Ordering::Relaxed),
            counts[2].load(Ordering::Relaxed),
            limiter.fallbacks()
        );
        Ok(())
    })
}

fn rtt(args: &[String]) -> Fallible<()> {
    let url = arg(args, "--url").ok_or("--url")?.to_owned();
    let redis = arg(args, "--redis").ok_or("--redis")?.to_owned();
    let iterations: usize = num(args, "--iterations", 5000)?;
    // A limit no sequential caller reaches: the limiter never waits, only decides.
    let config = RateLimitConfig::new(1_000_000, Duration::from_secs(1));
    let local = RateLimitLayer::new(config)?;
    let shared = RateLimitLayer::redis(config, RedisConfig::new(&redis, KEY)?)?;
    let (a, b) = (client(&url, &local)?, client(&url, &shared)?);
    runtime()?.block_on(async move {
        let mut times: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
        for i in 0..iterations + 500 {
            // Alternate which goes first, so that neither always follows the other.
            let order = if i % 2 == 0 { [0, 1] } else { [1, 0] };
            for which in order {
                let client = if which == 0 { &a } else { &b };
                let start = Instant::now();
                client.allowlist_identifiers().list().await?;
                if i >= 500 {
                    times[which].push(start.elapsed());
                }
            }
        }
        let stats = |v: &mut Vec<Duration>| {
            v.sort();
            let median = v[v.len() / 2];
            let mean = v.iter().sum::<Duration>() / u32::try_from(v.len()).unwrap_or(u32::MAX);
            (median, mean)
        };
        let (local_median, local_mean) = stats(&mut times[0]);
        let (redis_median, redis_mean) = stats(&mut times[1]);
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        println!("\n{iterations} sequential calls each, interleaved, after 500 of warm-up:\n");
        println!("| limiter | median | mean |");
        println!("|---|---|---|");
        println!(
            "| local | {:.0} µs | {:.0} µs |",
            us(local_median),
            us(local_mean)
        );
        println!(
            "| Redis | {:.0} µs | {:.0} µs |",
            us(redis_median),
            us(redis_mean)
        );
        println!(
            "| the Redis round trip | {:.0} µs ({:.2}x a call) | {:.0} µs ({:.2}x a call) |",
            us(redis_median) - us(local_median),
            (us(redis_median) - us(local_median)) / us(local_median),
            us(redis_mean) - us(local_mean),
            (us(redis_mean) - us(local_mean)) / us(local_mean),
        );
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
