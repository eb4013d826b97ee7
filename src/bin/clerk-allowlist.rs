//! `clerk-allowlist`: keep a Clerk instance's allow-list and block-list equal to a file.
//!
//! See `docs/sync.md` for the commands, the file format and the exit codes.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};
use clerk_tower::layer::{RateLimitConfig, RateLimitLayer, RedisConfig};
use clerk_tower::mock::{MockClerk, MockServer};
use clerk_tower::sync::{
    CsvColumn, Identifier, LineIssue, ListFormat, MaxDeletes, Notify, RemoteEntry, SyncBuilder,
    SyncError, SyncPlan, SyncProgress, SyncReport, SyncTarget,
};
use clerk_tower::{Client, Error};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Exit codes (documented in `docs/sync.md` and `--help`).
mod exit {
    /// Everything done.
    pub const OK: u8 = 0;
    /// The command ran, but some changes failed (listed on stderr); run it again.
    pub const FAILED_CHANGES: u8 = 1;
    /// Bad arguments or configuration, or an unreadable file; nothing was changed.
    pub const USAGE: u8 = 2;
    /// Clerk or the network refused the command as a whole (reading the list, a bad key);
    /// nothing (more) was changed.
    pub const API: u8 = 3;
    /// Some input lines or arguments were not identifiers: skipped, or (a sync with
    /// `--delete-extra`, a file that is not text, an unclear CSV column) nothing was changed.
    pub const BAD_INPUT: u8 = 4;
    /// The deletion guard refused the sync (the file names nothing, or the plan deletes more
    /// than `--max-deletes`); nothing was changed.
    pub const REFUSED: u8 = 5;
}

const AFTER_HELP: &str = "\
Environment: CLERK_SECRET_KEY (required unless --mock), CLERK_API_URL (default
https://api.clerk.com/v1). Requests are paced for the key: 1000 per 10 s for sk_live_ keys, 100 per
10 s for sk_test_ keys (--rate-limit to change it); a 429 pauses every request until Retry-After.
With --redis URL, that budget and pause are shared with every process using the same Redis and
key (while Redis is unreachable, each process paces itself at a quarter of the limit).

Input files: UTF-8 (with or without BOM) or UTF-16 with BOM; LF, CRLF or CR line endings; one
identifier per line (e-mail address, *@domain, E.164 phone number, web3 wallet), or CSV (the column
holding identifiers, or --column). Blank lines and lines starting with # are skipped. A file that is
not text is refused. With --delete-extra, a line that is not an identifier stops the sync before any
change (--skip-bad-lines to go on), a file naming nothing never empties the list, and deleting more
than --max-deletes (10% of the list) needs --yes; --dry-run shows the plan and the same refusals.

Exit codes: 0 done; 1 some changes failed (run again); 2 bad arguments, configuration or
unreadable file; 3 Clerk or the network refused the command (nothing more was changed); 4 some
input lines were not identifiers (skipped, or with --delete-extra nothing was changed); 5 the
deletion guard refused the sync (nothing was changed).";

/// clerk-allowlist: keep a Clerk instance's allow-list (and block-list) equal to a file
#[derive(Debug, Parser)]
#[command(name = "clerk-allowlist", version, after_help = AFTER_HELP)]
struct Cli {
    /// Run against an embedded, empty, in-memory Clerk mock (to try the tool)
    #[arg(long, global = true)]
    mock: bool,

    /// Requests allowed per window, e.g. 100/10s [default: from the secret key]
    #[arg(long, global = true, value_name = "N/DURATION", value_parser = parse_rate)]
    rate_limit: Option<(u32, Duration)>,

    /// Share the rate limit (and the 429 pauses) with every process that uses this Redis and
    /// the same key, e.g. redis://127.0.0.1:6379/ (see docs/fleet.md)
    #[arg(long, global = true, value_name = "URL")]
    redis: Option<String>,

    /// Changes in flight at once (1-256)
    #[arg(long, global = true, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,

    /// No progress bars
    #[arg(long, short, global = true)]
    quiet: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the allow-list
    List(ListArgs),
    /// Add identifiers to the allow-list
    Add(AddArgs),
    /// Remove identifiers (or alid_ ids) from the allow-list
    Remove(RemoveArgs),
    /// Make the allow-list hold the identifiers of FILE
    Sync(SyncArgs),
    /// The same commands for the block-list
    #[command(subcommand)]
    Blocklist(ListCommand),
    /// Turn the instance's allow-list or block-list restriction on or off (prints them)
    Restrictions(RestrictionsArgs),
}

#[derive(Debug, Subcommand)]
enum ListCommand {
    /// Print the block-list
    List(ListArgs),
    /// Add identifiers to the block-list
    Add(AddArgs),
    /// Remove identifiers (or blid_ ids) from the block-list
    Remove(RemoveArgs),
    /// Make the block-list hold the identifiers of FILE
    Sync(SyncArgs),
}

#[derive(Debug, ClapArgs)]
struct ListArgs {
    /// JSON array of {id, identifier}
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// CSV with a header: id,identifier
    #[arg(long)]
    csv: bool,
}

#[derive(Debug, ClapArgs)]
struct AddArgs {
    /// Identifiers to add
    #[arg(required = true, value_name = "ID")]
    identifiers: Vec<String>,
    /// Send new e-mail addresses and phone numbers an invitation (allow-list only)
    #[arg(long)]
    notify: bool,
}

#[derive(Debug, ClapArgs)]
struct RemoveArgs {
    /// Identifiers (or ids) to remove
    #[arg(required = true, value_name = "ID")]
    identifiers: Vec<String>,
}

#[derive(Debug, ClapArgs)]
struct SyncArgs {
    /// The file of identifiers
    file: PathBuf,
    /// Plan only: print what would change
    #[arg(long)]
    dry_run: bool,
    /// Also remove what the list holds and FILE does not
    #[arg(long)]
    delete_extra: bool,
    /// With --delete-extra, sync even if some lines are not identifiers (what they meant may be deleted)
    #[arg(long)]
    skip_bad_lines: bool,
    /// Most deletes allowed: a share of the list (10%) or a count (25)
    #[arg(long, value_name = "N%|N", default_value = "10%", value_parser = parse_max_deletes)]
    max_deletes: MaxDeletes,
    /// Allow any number of deletes (past --max-deletes)
    #[arg(long)]
    yes: bool,
    /// How FILE is laid out [default: CSV when a line has a comma, else one per line]
    #[arg(long, value_enum, default_value_t = Format::Auto)]
    format: Format,
    /// The CSV column of the identifiers: its header or its number from 1 (implies --format csv)
    #[arg(long, value_name = "NAME|N", conflicts_with = "format")]
    column: Option<String>,
    /// Send new e-mail addresses and phone numbers an invitation (allow-list only)
    #[arg(long)]
    notify: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Auto,
    Lines,
    Csv,
}

fn parse_max_deletes(raw: &str) -> Result<MaxDeletes, String> {
    let expected = "expected a share such as 10% (0-100) or a count such as 25";
    let raw = raw.trim();
    match raw.strip_suffix('%') {
        Some(percent) => match percent.trim().parse::<u8>() {
            Ok(p) if p <= 100 => Ok(MaxDeletes::Percent(p)),
            _ => Err(format!("{expected}, not {raw:?}")),
        },
        None => raw
            .parse::<usize>()
            .map(MaxDeletes::Count)
            .map_err(|_| format!("{expected}, not {raw:?}")),
    }
}

#[derive(Debug, ClapArgs)]
struct RestrictionsArgs {
    /// Only identifiers on the allow-list may sign up
    #[arg(long, value_enum)]
    allowlist: Option<Switch>,
    /// Identifiers on the block-list are refused
    #[arg(long, value_enum)]
    blocklist: Option<Switch>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Switch {
    On,
    Off,
}

fn parse_rate(raw: &str) -> Result<(u32, Duration), String> {
    let expected = "expected N/DURATION such as 100/10s, 1000/10s or 50/500ms";
    let (count, window) = raw
        .split_once('/')
        .ok_or_else(|| format!("{expected}, not {raw:?}"))?;
    let limit: u32 = count
        .trim()
        .parse()
        .map_err(|_| format!("{expected}, not {raw:?}"))?;
    let window = window.trim();
    let (number, per_second) = match window.strip_suffix("ms") {
        Some(n) => (n, 1000.0),
        None => (window.strip_suffix('s').unwrap_or(window), 1.0),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{expected}, not {raw:?}"))?;
    let window = Duration::try_from_secs_f64(value / per_second)
        .map_err(|_| format!("{expected}, not {raw:?}"))?;
    // The limiter checks the rest (zero, too long, too fast to pace).
    RateLimitConfig::new(limit, window)
        .interval()
        .map_err(|e| e.to_string())?;
    Ok((limit, window))
}

/// What went wrong with a whole command, and its exit code.
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Self {
        Self {
            code: exit::USAGE,
            message: message.into(),
        }
    }

    fn api(context: &str, error: &Error) -> Self {
        let code = match error {
            Error::Config(_) | Error::InvalidRequest(_) => exit::USAGE,
            _ => exit::API,
        };
        Self {
            code,
            message: format!("{context}: {error}"),
        }
    }

    fn sync(error: &SyncError) -> Self {
        let (code, hint) = match error {
            SyncError::InvalidOption { .. } => (exit::USAGE, ""),
            SyncError::BadInput { .. } => (
                exit::BAD_INPUT,
                " (fix the lines, or add --skip-bad-lines to sync without them)",
            ),
            SyncError::TooManyDeletes { .. } => (
                exit::REFUSED,
                " (read the plan with --dry-run, then allow it with --max-deletes or --yes)",
            ),
            SyncError::NothingDesired { .. } => (exit::REFUSED, ""),
            _ => (exit::API, ""),
        };
        Self {
            code,
            message: format!("{error}{hint}"),
        }
    }
}

/// Collects what to tell the user at the end, and the exit code.
#[derive(Default)]
struct Outcome {
    code: u8,
}

impl Outcome {
    /// Keeps the most serious code: 2 > 3 > 1 > 4 > 0.
    fn raise(&mut self, code: u8) {
        let rank = |c: u8| match c {
            exit::USAGE => 4,
            exit::API => 3,
            exit::FAILED_CHANGES => 2,
            exit::BAD_INPUT => 1,
            _ => 0,
        };
        if rank(code) > rank(self.code) {
            self.code = code;
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::from(exit::USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("clerk-allowlist: cannot start the runtime: {e}");
            return ExitCode::from(exit::API);
        }
    };
    let code = runtime.block_on(async {
        match run(cli).await {
            Ok(code) => code,
            Err(failure) => {
                eprintln!("clerk-allowlist: {}", failure.message);
                failure.code
            }
        }
    });
    ExitCode::from(code)
}

struct Context {
    client: Client,
    limiter: RateLimitLayer,
    concurrency: usize,
    progress: bool,
    // Kept alive while the command runs.
    _mock: Option<MockServer>,
}

async fn connect(cli: &Cli) -> Result<Context, Failure> {
    let (builder, key, mock) = if cli.mock {
        let mock = MockClerk::new();
        let server = mock
            .serve()
            .await
            .map_err(|e| Failure::usage(format!("--mock: cannot start the mock: {e}")))?;
        let builder = Client::builder()
            .secret_key(MockClerk::DEFAULT_SECRET_KEY)
            .base_url(server.base_url());
        (
            builder,
            MockClerk::DEFAULT_SECRET_KEY.to_owned(),
            Some(server),
        )
    } else {
        let key = std::env::var("CLERK_SECRET_KEY")
            .ok()
            .filter(|k| !k.trim().is_empty())
            .ok_or_else(|| {
                Failure::usage("CLERK_SECRET_KEY is not set (or use --mock to try the tool)")
            })?;
        (Client::builder().load_env(), key, None)
    };
    let config = match cli.rate_limit {
        Some((limit, window)) => RateLimitConfig::new(limit, window),
        None => RateLimitConfig::for_secret_key(&key).map_err(|_| {
            Failure::usage(
                "the secret key starts with neither sk_live_ nor sk_test_: give the limit with --rate-limit",
            )
        })?,
    };
    let limiter = match &cli.redis {
        Some(url) => RedisConfig::new(url, &key)
            .and_then(|redis| RateLimitLayer::redis(config, redis))
            .map_err(|e| Failure::usage(format!("--redis: {e}")))?,
        None => {
            RateLimitLayer::new(config).map_err(|e| Failure::usage(format!("--rate-limit: {e}")))?
        }
    };
    let client = builder
        .user_agent(concat!("clerk-allowlist/", env!("CARGO_PKG_VERSION")))
        .timeout(Duration::from_secs(120))
        .layer(limiter.clone())
        .build()
        .map_err(|e| Failure::api("configuration", &e))?;
    Ok(Context {
        client,
        limiter,
        concurrency: usize::from(cli.concurrency),
        progress: !cli.quiet && std::io::stderr().is_terminal(),
        _mock: mock,
    })
}

async fn run(cli: Cli) -> Result<u8, Failure> {
    let ctx = connect(&cli).await?;
    let allowlist = ctx.client.allowlist_identifiers();
    let blocklist = ctx.client.blocklist_identifiers();
    let result = match cli.command {
        Command::List(args) => list(&ctx, allowlist, &args).await,
        Command::Add(args) => add(&ctx, allowlist, &args).await,
        Command::Remove(args) => remove(&ctx, allowlist, &args).await,
        Command::Sync(args) => sync(&ctx, allowlist, &args).await,
        Command::Blocklist(ListCommand::List(args)) => list(&ctx, blocklist, &args).await,
        Command::Blocklist(ListCommand::Add(args)) => add(&ctx, blocklist, &args).await,
        Command::Blocklist(ListCommand::Remove(args)) => remove(&ctx, blocklist, &args).await,
        Command::Blocklist(ListCommand::Sync(args)) => sync(&ctx, blocklist, &args).await,
        Command::Restrictions(args) => restrictions(&ctx, &args).await,
    };
    let fallbacks = ctx.limiter.fallbacks();
    if fallbacks > 0 {
        eprintln!(
            "clerk-allowlist: Redis was unreachable ({fallbacks} time(s)); requests were paced \
             locally at a share of the limit meanwhile"
        );
    }
    result
}

/// A progress bar on stderr, or nothing when stderr is not a terminal (or `--quiet`).
fn bar(ctx: &Context) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    if ctx.progress {
        bar.set_draw_target(ProgressDrawTarget::stderr());
        bar.enable_steady_tick(Duration::from_millis(120));
    }
    bar
}

fn progress_callback(bar: &ProgressBar, list: &'static str) -> impl Fn(SyncProgress) + Send + Sync {
    let bar = bar.clone();
    bar.set_style(
        ProgressStyle::with_template("{spinner} reading the {msg}: {pos} entries")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(list);
    let applying_started = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Styles are made where they are used: the closure must be `Sync`, and a style is not in
    // every indicatif 0.17 release.
    move |p| match p {
        SyncProgress::Reading { read } => {
            bar.set_position(u64::try_from(read).unwrap_or(u64::MAX));
        }
        SyncProgress::Applying { done, total } => {
            if !applying_started.swap(true, std::sync::atomic::Ordering::Relaxed) {
                bar.set_style(
                    ProgressStyle::with_template(
                        "{msg} [{bar:40}] {pos}/{len} changes, {per_sec}, eta {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                bar.set_message(list);
                bar.set_length(u64::try_from(total).unwrap_or(u64::MAX));
                bar.set_position(0);
            }
            bar.set_position(u64::try_from(done).unwrap_or(u64::MAX));
        }
        _ => {}
    }
}

fn builder<T: SyncTarget>(
    ctx: &Context,
    target: T,
    desired: impl Into<clerk_tower::sync::ParsedList>,
) -> SyncBuilder<T> {
    SyncBuilder::new(target, desired).concurrency(ctx.concurrency)
}

async fn list<T: SyncTarget>(ctx: &Context, target: T, args: &ListArgs) -> Result<u8, Failure> {
    let bar = bar(ctx);
    let sync =
        builder(ctx, target, Vec::new()).on_progress(progress_callback(&bar, T::LIST.as_str()));
    let plan = sync.plan().await.map_err(|e| Failure::sync(&e));
    bar.finish_and_clear();
    // With nothing desired and delete_extra off, every entry is "extra".
    let entries = plan?.extra;
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        let items: Vec<serde_json::Value> = entries
            .iter()
            .map(|e| serde_json::json!({"id": e.id, "identifier": e.identifier}))
            .collect();
        serde_json::to_writer_pretty(&mut out, &items)
            .map_err(std::io::Error::other)
            .and_then(|()| writeln!(out))
    } else if args.csv {
        writeln!(out, "id,identifier").and_then(|()| {
            entries
                .iter()
                .try_for_each(|e| writeln!(out, "{},{}", csv(&e.id), csv(&e.identifier)))
        })
    } else {
        entries
            .iter()
            .try_for_each(|e| writeln!(out, "{}\t{}", e.identifier, e.id))
    };
    written.map_err(|e| Failure {
        code: exit::API,
        message: format!("writing the output: {e}"),
    })?;
    Ok(exit::OK)
}

fn csv(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

/// Parses command-line identifiers; bad ones are reported and skipped.
fn parse_args(values: &[String], outcome: &mut Outcome) -> Vec<Identifier> {
    let mut parsed = Vec::new();
    for (i, value) in values.iter().enumerate() {
        match Identifier::parse(value) {
            Ok(identifier) => parsed.push(identifier),
            Err(why) => {
                eprintln!("argument {}: {why}", i.saturating_add(1));
                outcome.raise(exit::BAD_INPUT);
            }
        }
    }
    parsed
}

async fn add<T: SyncTarget>(ctx: &Context, target: T, args: &AddArgs) -> Result<u8, Failure> {
    let mut outcome = Outcome::default();
    let identifiers = parse_args(&args.identifiers, &mut outcome);
    let mut plan = SyncPlan::new();
    plan.creates = identifiers;
    let sync = builder(ctx, target, Vec::new()).notify(notify(args.notify));
    let report = apply(ctx, sync, plan, T::LIST.as_str()).await?;
    summarize(T::LIST.as_str(), &report, &mut outcome);
    Ok(outcome.code)
}

async fn remove<T: SyncTarget>(ctx: &Context, target: T, args: &RemoveArgs) -> Result<u8, Failure> {
    let mut outcome = Outcome::default();
    let prefix = match T::LIST {
        clerk_tower::sync::ListKind::Allowlist => "alid_",
        _ => "blid_",
    };
    let (ids, others): (Vec<&String>, Vec<&String>) = args
        .identifiers
        .iter()
        .partition(|v| v.trim().starts_with(prefix));
    let others: Vec<String> = others.into_iter().cloned().collect();
    let wanted: Vec<String> = parse_args(&others, &mut outcome)
        .iter()
        .map(Identifier::key)
        .collect();
    let sync = builder(ctx, target, Vec::new());
    let listed = sync.plan().await.map_err(|e| Failure::sync(&e))?.extra;
    let mut plan = SyncPlan::new();
    let mut found = 0usize;
    for entry in listed {
        let matches = ids.iter().any(|id| id.trim() == entry.id)
            || wanted.contains(&Identifier::key_of(&entry.identifier));
        if matches {
            found = found.saturating_add(1);
            plan.deletes
                .push(RemoteEntry::new(entry.id, entry.identifier));
        }
    }
    let asked = ids.len().saturating_add(wanted.len());
    if found < asked {
        eprintln!(
            "{}: {} of the {asked} given were not listed",
            T::LIST.as_str(),
            asked.saturating_sub(found)
        );
    }
    let report = apply(ctx, sync, plan, T::LIST.as_str()).await?;
    summarize(T::LIST.as_str(), &report, &mut outcome);
    Ok(outcome.code)
}

async fn sync<T: SyncTarget>(ctx: &Context, target: T, args: &SyncArgs) -> Result<u8, Failure> {
    let mut outcome = Outcome::default();
    let bytes = std::fs::read(&args.file)
        .map_err(|e| Failure::usage(format!("{}: {e}", args.file.display())))?;
    let format = match (&args.column, args.format) {
        (Some(column), _) => ListFormat::Csv(match column.trim().parse::<usize>() {
            Ok(number) => CsvColumn::Number(number),
            Err(_) => CsvColumn::Name(column.clone()),
        }),
        (None, Format::Auto) => ListFormat::Auto,
        (None, Format::Lines) => ListFormat::Lines,
        (None, Format::Csv) => ListFormat::Csv(CsvColumn::Auto),
    };
    // Understood as a whole, or refused as a whole: never read line by line when not text.
    let parsed = format.read(&bytes).map_err(|e| Failure {
        code: exit::BAD_INPUT,
        message: format!("{}: {e}", args.file.display()),
    })?;
    report_lines(&args.file, &parsed.issues, &mut outcome);
    let list = T::LIST.as_str();
    let max_deletes = if args.yes {
        MaxDeletes::Unlimited
    } else {
        args.max_deletes
    };
    let bar = bar(ctx);
    let sync = builder(ctx, target, parsed)
        .delete_extra(args.delete_extra)
        .skip_bad_lines(args.skip_bad_lines)
        .max_deletes(max_deletes)
        .notify(notify(args.notify))
        .on_progress(progress_callback(&bar, list));
    // Plan, show the plan of a dry run, then refuse what a run would refuse.
    let plan = sync.plan().await;
    bar.finish_and_clear();
    let plan = plan.map_err(|e| Failure::sync(&e))?;
    let checked = sync.check_plan(&plan);
    if args.dry_run {
        let report = SyncReport::planned(plan);
        let mut out = std::io::stdout().lock();
        for created in &report.created {
            let _ = writeln!(out, "+ {created}");
        }
        for deleted in &report.deleted {
            let _ = writeln!(out, "- {deleted}");
        }
        drop(out);
        summarize(list, &report, &mut outcome);
        checked.map_err(|e| Failure::sync(&e))?;
        return Ok(outcome.code);
    }
    checked.map_err(|e| Failure::sync(&e))?;
    let report = apply(ctx, sync, plan, list).await?;
    summarize(list, &report, &mut outcome);
    Ok(outcome.code)
}

fn notify(on: bool) -> Notify {
    if on {
        Notify::Always
    } else {
        Notify::Never
    }
}

fn report_lines(file: &std::path::Path, issues: &[LineIssue], outcome: &mut Outcome) {
    for issue in issues {
        eprintln!("{}: {issue}", file.display());
        if !matches!(
            issue.problem,
            clerk_tower::sync::LineProblem::Duplicate { .. }
        ) {
            outcome.raise(exit::BAD_INPUT);
        }
    }
}

async fn apply<T: SyncTarget>(
    ctx: &Context,
    sync: SyncBuilder<T>,
    plan: SyncPlan,
    list: &'static str,
) -> Result<SyncReport, Failure> {
    let bar = bar(ctx);
    let sync = sync.on_progress(progress_callback(&bar, list));
    let report = sync.apply(plan).await;
    bar.finish_and_clear();
    report.map_err(|e| Failure::sync(&e))
}

fn summarize(list: &str, report: &SyncReport, outcome: &mut Outcome) {
    for failure in &report.failed {
        eprintln!(
            "{} {}: {}",
            failure.action.as_str(),
            failure.identifier,
            failure.error
        );
    }
    if !report.failed.is_empty() {
        outcome.raise(exit::FAILED_CHANGES);
    }
    let mut out = std::io::stdout().lock();
    let verb = if report.dry_run { "would be " } else { "" };
    if report.nothing_to_do() {
        let _ = writeln!(
            out,
            "{list}: nothing to do ({} unchanged, {} extra kept)",
            report.unchanged.len(),
            report.extra.len()
        );
        return;
    }
    let _ = writeln!(
        out,
        "{list}: {} {verb}created, {} {verb}deleted, {} unchanged, {} extra kept, {} already present, {} already gone, {} failed",
        report.created.len(),
        report.deleted.len(),
        report.unchanged.len(),
        report.extra.len(),
        report.already_present.len(),
        report.already_gone.len(),
        report.failed.len()
    );
}

async fn restrictions(ctx: &Context, args: &RestrictionsArgs) -> Result<u8, Failure> {
    let mut call = ctx.client.instance_settings().update_restrictions();
    if let Some(on) = args.allowlist {
        call = call.allowlist(matches!(on, Switch::On));
    }
    if let Some(on) = args.blocklist {
        call = call.blocklist(matches!(on, Switch::On));
    }
    let r = call
        .await
        .map_err(|e| Failure::api("updating the restrictions", &e))?;
    let flag = |b: bool| if b { "on" } else { "off" };
    let _ = writeln!(
        std::io::stdout().lock(),
        "allowlist: {}\nblocklist: {}\nallowlist_blocklist_disabled_on_sign_in: {}\nblock_email_subaddresses: {}\nblock_disposable_email_domains: {}",
        flag(r.allowlist),
        flag(r.blocklist),
        flag(r.allowlist_blocklist_disabled_on_sign_in),
        flag(r.block_email_subaddresses),
        flag(r.block_disposable_email_domains)
    );
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("clerk-allowlist").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn arguments() {
        let cli = parse(&["--mock", "sync", "f.txt", "--dry-run", "--delete-extra"]).unwrap();
        assert!(cli.mock);
        assert!(matches!(
            cli.command,
            Command::Sync(SyncArgs {
                dry_run: true,
                delete_extra: true,
                notify: false,
                ..
            })
        ));
        let cli = parse(&["sync", "f.csv", "--max-deletes", "25%", "--column", "email"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Sync(SyncArgs {
                max_deletes: MaxDeletes::Percent(25),
                column: Some(_),
                yes: false,
                ..
            })
        ));
        assert_eq!(parse_max_deletes("30"), Ok(MaxDeletes::Count(30)));
        let cli = parse(&["blocklist", "add", "a@b.co", "--rate-limit", "50/500ms"]).unwrap();
        assert_eq!(cli.rate_limit, Some((50, Duration::from_millis(500))));
        assert!(matches!(
            cli.command,
            Command::Blocklist(ListCommand::Add(_))
        ));
        let cli = parse(&["restrictions", "--allowlist", "on"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Restrictions(RestrictionsArgs {
                allowlist: Some(Switch::On),
                blocklist: None
            })
        ));
        for bad in [
            &["list", "--json", "--csv"][..],
            &["add"],
            &["sync"],
            &["--concurrency", "0", "list"],
            &["--rate-limit", "0/10s", "list"],
            &["--rate-limit", "10", "list"],
            &["restrictions", "--allowlist", "maybe"],
            &["sync", "f.txt", "--max-deletes", "101%"],
            &["sync", "f.txt", "--max-deletes", "ten"],
            &["sync", "f.txt", "--format", "lines", "--column", "2"],
            &["frobnicate"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn exit_codes_keep_the_most_serious() {
        let mut outcome = Outcome::default();
        outcome.raise(exit::BAD_INPUT);
        outcome.raise(exit::FAILED_CHANGES);
        outcome.raise(exit::BAD_INPUT);
        assert_eq!(outcome.code, exit::FAILED_CHANGES);
        assert_eq!(csv("a,b"), "\"a,b\"");
        assert_eq!(csv("x\"y"), "\"x\"\"y\"");
    }
}
