//! Keep an instance's allow-list or block-list equal to a list kept elsewhere (an HR export,
//! a CSV of partner domains, a file in git).
//!
//! ```no_run
//! use clerk_tower::layer::{RateLimitConfig, RateLimitLayer};
//! use clerk_tower::sync::{read_list, Notify};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let key = std::env::var("CLERK_SECRET_KEY")?;
//! let client = clerk_tower::Client::builder()
//!     .secret_key(&key)
//!     // Clerk's limit for this key, shared by every call of the client.
//!     .layer(RateLimitLayer::new(RateLimitConfig::for_secret_key(&key)?)?)
//!     .build()?;
//!
//! // UTF-8 or UTF-16 text, any line ending, one per line or CSV; not text: refused.
//! let parsed = read_list(&std::fs::read("allowlist.txt")?)?;
//! for issue in &parsed.issues {
//!     eprintln!("allowlist.txt: {issue}"); // "line 12: phone number without a country code"
//! }
//! let report = client
//!     .allowlist_identifiers()
//!     .sync(parsed)              // with its issues: a bad line stops a sync that deletes
//!     .delete_extra(true)        // also remove what the file does not list
//!     .notify(Notify::Never)     // no invitations for new identifiers
//!     .run()
//!     .await?;
//! println!("{} created, {} deleted, {} unchanged, {} failed",
//!          report.created.len(), report.deleted.len(), report.unchanged.len(), report.failed.len());
//! # Ok(()) }
//! ```
//!
//! # What a run does
//!
//! 1. **Read** the whole list (the allow-list page by page, 500 at a time; the block-list in
//!    the one call its spec has).
//! 2. **Plan**: identifiers are compared by their normalized [`Identifier::key`] (e-mail
//!    addresses without case, phone numbers in E.164, wallets without case). Desired and not
//!    listed: create. Listed and not desired: delete with
//!    [`delete_extra`](SyncBuilder::delete_extra), else kept and reported as `extra`. Both:
//!    unchanged. A second entry of the list with the key of a first one is extra too.
//! 3. **Apply** deletes first (they free room), then creates, at most
//!    [`concurrency`](SyncBuilder::concurrency) at a time, each through the client's whole
//!    stack (its rate limiter, retries, timeouts). A call that ends with a 429 (its retries
//!    spent) is sent again after `Retry-After`, and the sync's other calls wait for the same
//!    instant: one pause for all.
//! 4. **Report** ([`SyncReport`]): created, deleted, unchanged, extra, and per identifier the
//!    typed [`Error`] of what failed. A create that finds the identifier already there
//!    (`duplicate_record`: someone added it since the read) and a delete that finds it gone
//!    (404) reached the goal and are reported as `already_present` / `already_gone`, not as
//!    failures.
//!
//! A [dry run](SyncBuilder::dry_run) stops after the plan: its report lists what a run would
//! create and delete, and it refuses what a run would refuse.
//!
//! # Never deleting on doubt
//!
//! With [`delete_extra`](SyncBuilder::delete_extra), whatever the desired list does not name
//! is deleted, so a run refuses, before its first change (and a dry run the same way), when:
//!
//! - **a line of the input was not understood** ([`SyncError::BadInput`]): give the sync the
//!   [`ParsedList`] of [`read_list`] / [`parse_list`], not only its identifiers, and a line
//!   that is not an identifier stops it (what that line meant to name would be deleted).
//!   [`skip_bad_lines`](SyncBuilder::skip_bad_lines) says to go on without those lines.
//!   Without `delete_extra` the bad lines are only skipped: nothing is deleted. A file that is
//!   not text, or a CSV whose identifier column is not clear, is refused by [`read_list`]
//!   already ([`InputError`]);
//! - **the input names nothing** (an empty or comments-only file) and the list is not empty
//!   ([`SyncError::NothingDesired`]): a sync never empties a list; remove entries one by one
//!   ([`apply`](SyncBuilder::apply) with a plan) if that is really meant;
//! - **the plan deletes more than [`max_deletes`](SyncBuilder::max_deletes)** (default: 10 %
//!   of the entries listed, [`MaxDeletes::Percent`]) ([`SyncError::TooManyDeletes`]): read the
//!   plan (a dry run), then allow it with a larger share, a count, or
//!   [`MaxDeletes::Unlimited`] (the CLI's `--yes`).
//!
//! [`plan`](SyncBuilder::plan) only reads and plans; [`check_plan`](SyncBuilder::check_plan)
//! says whether a run would refuse that plan. [`apply`](SyncBuilder::apply) applies a plan as
//! given (the CLI's `remove` deletes entries named one by one this way).
//!
//! # Idempotent, and safe to run again after a crash
//!
//! A sync keeps no state of its own: every run plans from what the list holds *now*. After a
//! run, a second one finds every desired identifier listed (and, with `delete_extra`, nothing
//! else), plans nothing and sends nothing but the read. A run stopped halfway (a crash, a
//! Ctrl-C, a timeout) leaves some of its changes made and some not; each change is one
//! request for one identifier, applied entirely or not at all, so the next run reads the
//! result, plans only what is missing, and converges. A create whose answer was lost (it may
//! or may not have happened) is never repeated blindly by the client; the next run sees
//! whether it happened. Changes made by others while a run is under way are either seen by
//! the read or met as `duplicate_record` / 404, which count as done.
//!
//! Turning the instance's allow-list or block-list restriction on or off is a separate step
//! ([`Client::instance_settings`](crate::Client::instance_settings)): a sync never changes it.

mod identifier;
mod input;
mod target;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use http::StatusCode;
use tokio::time::Instant;

use crate::Error;

pub use identifier::{
    Identifier, IdentifierKind, InvalidIdentifier, InvalidReason, MAX_IDENTIFIER_BYTES,
};
pub use input::{
    parse_list, read_list, CsvColumn, InputError, LineIssue, LineProblem, ListFormat, NotText,
    ParsedList, ReadAs,
};
pub use target::{ListKind, RemoteEntry, SyncTarget};

/// The default number of changes in flight.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// The most changes in flight a sync takes.
pub const MAX_CONCURRENCY: usize = 256;

/// The longest a sync waits after a 429 before sending the change again.
pub const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// How many deletes a sync with `delete_extra` may make; more stops it before its first change
/// ([`SyncError::TooManyDeletes`]). See [`SyncBuilder::max_deletes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MaxDeletes {
    /// At most this share of the entries listed when the sync reads, in percent (0 to 100):
    /// deletes × 100 ≤ listed × percent. The default is 10.
    Percent(u8),
    /// At most this many.
    Count(usize),
    /// No limit.
    Unlimited,
}

impl Default for MaxDeletes {
    fn default() -> Self {
        MaxDeletes::Percent(10)
    }
}

impl MaxDeletes {
    /// How many deletes of a list of `listed` entries this allows.
    pub fn allowed(self, listed: usize) -> usize {
        match self {
            MaxDeletes::Percent(percent) => {
                let share = u128::try_from(listed)
                    .unwrap_or(u128::MAX)
                    .saturating_mul(u128::from(percent.min(100)))
                    / 100;
                usize::try_from(share).unwrap_or(usize::MAX)
            }
            MaxDeletes::Count(count) => count,
            MaxDeletes::Unlimited => usize::MAX,
        }
    }
}

/// Whether new allow-list identifiers get an invitation from Clerk (`notify`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Notify {
    /// No invitation (`notify: false` is sent explicitly).
    #[default]
    Never,
    /// An invitation for every new e-mail address and phone number (Clerk has none for
    /// e-mail domains and wallets, and the block-list has none at all).
    Always,
}

/// What a sync planned: see the [module docs](self).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SyncPlan {
    /// Identifiers to add.
    pub creates: Vec<Identifier>,
    /// Entries to remove.
    pub deletes: Vec<RemoteEntry>,
    /// Identifiers desired and already listed.
    pub unchanged: Vec<String>,
    /// Entries listed but not desired, kept because `delete_extra` is off.
    pub extra: Vec<RemoteEntry>,
}

impl SyncPlan {
    /// An empty plan, to fill by hand and give to [`SyncBuilder::apply`] (what the CLI's
    /// `add` and `remove` do).
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the plan changes nothing.
    pub fn is_empty(&self) -> bool {
        self.creates.is_empty() && self.deletes.is_empty()
    }

    /// How many entries the list held when it was read (each is unchanged, deleted or
    /// extra).
    pub fn listed(&self) -> usize {
        self.unchanged
            .len()
            .saturating_add(self.deletes.len())
            .saturating_add(self.extra.len())
    }
}

/// A change that failed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SyncFailure {
    /// The identifier.
    pub identifier: String,
    /// What was tried.
    pub action: SyncAction,
    /// Why it failed: status, Clerk's code and trace id, attempts (see [`Error`]).
    pub error: Error,
}

impl fmt::Display for SyncFailure {
    /// The action and the error, never the identifier (personal data; read it from the field).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {}", self.action.as_str(), self.error)
    }
}

/// A change a sync makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncAction {
    /// Add an identifier.
    Create,
    /// Remove an entry.
    Delete,
}

impl SyncAction {
    /// `create` or `delete`.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncAction::Create => "create",
            SyncAction::Delete => "delete",
        }
    }
}

/// What a sync did (or, in a dry run, would do).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SyncReport {
    /// Whether this was a dry run: `created` and `deleted` are then what a run would do.
    pub dry_run: bool,
    /// Identifiers added.
    pub created: Vec<String>,
    /// Identifiers removed.
    pub deleted: Vec<String>,
    /// Identifiers desired and already listed.
    pub unchanged: Vec<String>,
    /// Identifiers listed, not desired, and kept (`delete_extra` off).
    pub extra: Vec<String>,
    /// Creates that found the identifier already listed (added since the read).
    pub already_present: Vec<String>,
    /// Deletes that found the entry already gone (removed since the read).
    pub already_gone: Vec<String>,
    /// Changes that failed, each with its typed error.
    pub failed: Vec<SyncFailure>,
}

impl SyncReport {
    /// Whether nothing had to change: no create, no delete, no failure (a run right after a
    /// successful one reports this).
    pub fn nothing_to_do(&self) -> bool {
        self.created.is_empty()
            && self.deleted.is_empty()
            && self.failed.is_empty()
            && self.already_present.is_empty()
            && self.already_gone.is_empty()
    }

    /// Whether every planned change reached its goal.
    pub fn is_success(&self) -> bool {
        self.failed.is_empty()
    }

    /// The report of a dry run that made `plan`: `created` and `deleted` are what a run
    /// would do.
    pub fn planned(plan: SyncPlan) -> Self {
        SyncReport {
            dry_run: true,
            created: plan.creates.iter().map(ToString::to_string).collect(),
            deleted: plan.deletes.into_iter().map(|e| e.identifier).collect(),
            unchanged: plan.unchanged,
            extra: plan.extra.into_iter().map(|e| e.identifier).collect(),
            ..SyncReport::default()
        }
    }
}

/// How far a sync is: for progress bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncProgress {
    /// Reading the list: entries read so far.
    Reading {
        /// Entries read so far.
        read: usize,
    },
    /// Applying the plan: changes finished so far, of `total`.
    Applying {
        /// Changes finished (successfully or not).
        done: usize,
        /// Changes planned.
        total: usize,
    },
}

/// Why a sync could not run. Changes that fail one by one are in the [`SyncReport`] instead.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SyncError {
    /// Reading the list failed; nothing was changed.
    List(Error),
    /// The list said it holds more entries than it returned; nothing was changed (a plan
    /// made from part of the list could delete what it did not see).
    Incomplete {
        /// How many entries came back.
        listed: usize,
        /// How many the list said it holds.
        total: u64,
    },
    /// Some lines of the input were not identifiers, and the sync would delete what the list
    /// holds and the input does not name (`delete_extra`): nothing was changed. Fix the lines,
    /// or say [`skip_bad_lines`](SyncBuilder::skip_bad_lines).
    BadInput {
        /// How many lines.
        lines: usize,
        /// The first of them, from 1.
        first_line: usize,
    },
    /// The input names no identifier, and the sync would delete every entry of the list:
    /// nothing was changed. A sync never empties a list.
    NothingDesired {
        /// How many entries the list holds.
        listed: usize,
    },
    /// The plan deletes more entries than [`max_deletes`](SyncBuilder::max_deletes) allows:
    /// nothing was changed.
    TooManyDeletes {
        /// The deletes planned.
        deletes: usize,
        /// The entries listed.
        listed: usize,
        /// The deletes allowed.
        allowed: usize,
    },
    /// A setting of the sync is out of range.
    InvalidOption {
        /// The setting.
        option: &'static str,
        /// Why.
        message: &'static str,
    },
}

impl fmt::Display for SyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncError::List(e) => write!(f, "reading the list failed: {e}"),
            SyncError::Incomplete { listed, total } => write!(
                f,
                "the list returned {listed} of its {total} entries; nothing was changed"
            ),
            SyncError::BadInput { lines, first_line } => write!(
                f,
                "{lines} input line(s) are not identifiers (the first: line {first_line}), and \
                 a sync that deletes what its input does not name would delete what they meant; \
                 nothing was changed"
            ),
            SyncError::NothingDesired { listed } => write!(
                f,
                "the input names no identifier and the sync would delete all {listed} entries; \
                 a sync never empties a list; nothing was changed"
            ),
            SyncError::TooManyDeletes {
                deletes,
                listed,
                allowed,
            } => write!(
                f,
                "the plan deletes {deletes} of the {listed} entries listed, more than the {allowed} \
                 allowed; nothing was changed"
            ),
            SyncError::InvalidOption { option, message } => write!(f, "{option}: {message}"),
        }
    }
}

impl std::error::Error for SyncError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SyncError::List(e) => Some(e),
            _ => None,
        }
    }
}

impl SyncError {
    /// The API or network error behind this one, if any (its `clerk_trace_id`, status...).
    pub fn api_error(&self) -> Option<&Error> {
        match self {
            SyncError::List(e) => Some(e),
            _ => None,
        }
    }
}

type ProgressFn = Arc<dyn Fn(SyncProgress) + Send + Sync>;

/// A sync of one list; get it from `client.allowlist_identifiers().sync(desired)` or
/// `client.blocklist_identifiers().sync(desired)`. See the [module docs](self).
#[must_use = "a sync does nothing until `run`, `plan` or `apply` is awaited"]
pub struct SyncBuilder<T> {
    target: T,
    desired: Vec<Identifier>,
    /// The lines of the input that were not identifiers: how many, and the first.
    bad_lines: (usize, usize),
    delete_extra: bool,
    skip_bad_lines: bool,
    max_deletes: MaxDeletes,
    notify: Notify,
    concurrency: usize,
    dry_run: bool,
    rate_limit_retries: u32,
    progress: Option<ProgressFn>,
}

impl<T> fmt::Debug for SyncBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncBuilder")
            .field("desired", &self.desired.len())
            .field("bad_lines", &self.bad_lines.0)
            .field("delete_extra", &self.delete_extra)
            .field("skip_bad_lines", &self.skip_bad_lines)
            .field("max_deletes", &self.max_deletes)
            .field("notify", &self.notify)
            .field("concurrency", &self.concurrency)
            .field("dry_run", &self.dry_run)
            .finish_non_exhaustive()
    }
}

impl<T: SyncTarget> SyncBuilder<T> {
    /// A sync of `target` to `desired`: a [`ParsedList`] (with the lines that were not
    /// understood, which stop a sync with `delete_extra`), or identifiers made by code
    /// (`Vec<Identifier>`). Duplicates are kept once.
    pub fn new(target: T, desired: impl Into<ParsedList>) -> Self {
        let desired = desired.into();
        let bad_lines = desired
            .bad_lines()
            .fold((0usize, 0usize), |(n, first), issue| {
                let first = if n == 0 { issue.line } else { first };
                (n.saturating_add(1), first)
            });
        let mut seen = std::collections::HashSet::new();
        let desired = desired
            .identifiers
            .into_iter()
            .filter(|identifier| seen.insert(identifier.key()))
            .collect();
        Self {
            target,
            desired,
            bad_lines,
            delete_extra: false,
            skip_bad_lines: false,
            max_deletes: MaxDeletes::default(),
            notify: Notify::Never,
            concurrency: DEFAULT_CONCURRENCY,
            dry_run: false,
            rate_limit_retries: 3,
            progress: None,
        }
    }

    /// Also delete what the list holds and `desired` does not (default: keep it, and report
    /// it as `extra`). See [never deleting on doubt](self#never-deleting-on-doubt).
    pub fn delete_extra(mut self, delete_extra: bool) -> Self {
        self.delete_extra = delete_extra;
        self
    }

    /// With `delete_extra`, run even when some lines of the input were not identifiers
    /// (default: refuse, [`SyncError::BadInput`]). What those lines meant to name is deleted
    /// if the list holds it.
    pub fn skip_bad_lines(mut self, skip: bool) -> Self {
        self.skip_bad_lines = skip;
        self
    }

    /// How many deletes a run may make (default [`MaxDeletes::Percent`]`(10)`: a tenth of
    /// the entries listed); a plan with more is refused ([`SyncError::TooManyDeletes`]).
    pub fn max_deletes(mut self, max: MaxDeletes) -> Self {
        self.max_deletes = max;
        self
    }

    /// Invitations for new identifiers (default [`Notify::Never`]). Identifiers already
    /// listed are never invited again.
    pub fn notify(mut self, notify: Notify) -> Self {
        self.notify = notify;
        self
    }

    /// How many changes may be in flight at once (default 8, 1..=256). Pace them with a
    /// [`RateLimitLayer`](crate::layer::RateLimitLayer) on the client: this only bounds how
    /// many wait for a turn.
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency;
        self
    }

    /// Plan only: [`run`](Self::run) reads the list and reports what it would change.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// How many times a change that ended with a 429 is sent again, after `Retry-After`
    /// (default 3; the client's own retries come first).
    pub fn rate_limit_retries(mut self, retries: u32) -> Self {
        self.rate_limit_retries = retries;
        self
    }

    /// Calls `progress` as the list is read and as changes finish.
    pub fn on_progress(mut self, progress: impl Fn(SyncProgress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(progress));
        self
    }

    /// Reads the list and plans, without changing anything.
    ///
    /// # Errors
    /// [`SyncError::List`] when the read fails, [`SyncError::Incomplete`] when the list
    /// returned less than it said it holds.
    pub async fn plan(&self) -> Result<SyncPlan, SyncError> {
        let progress = self.progress.clone();
        let read = move |read: usize| {
            if let Some(progress) = &progress {
                progress(SyncProgress::Reading { read });
            }
        };
        let listed = self.target.fetch(read).await?;
        Ok(plan(&self.desired, listed, self.delete_extra))
    }

    /// Whether a run would refuse `plan` (see [never deleting on
    /// doubt](self#never-deleting-on-doubt)); a dry run refuses it the same way.
    ///
    /// # Errors
    /// [`SyncError::BadInput`], [`SyncError::NothingDesired`], [`SyncError::TooManyDeletes`].
    pub fn check_plan(&self, plan: &SyncPlan) -> Result<(), SyncError> {
        self.check_input()?;
        if plan.deletes.is_empty() {
            return Ok(());
        }
        let listed = plan.listed();
        if self.desired.is_empty() {
            return Err(SyncError::NothingDesired { listed });
        }
        let allowed = self.max_deletes.allowed(listed);
        if plan.deletes.len() > allowed {
            return Err(SyncError::TooManyDeletes {
                deletes: plan.deletes.len(),
                listed,
                allowed,
            });
        }
        Ok(())
    }

    fn check_input(&self) -> Result<(), SyncError> {
        let (lines, first_line) = self.bad_lines;
        if self.delete_extra && lines > 0 && !self.skip_bad_lines {
            return Err(SyncError::BadInput { lines, first_line });
        }
        Ok(())
    }

    /// Reads, plans and (unless a dry run) applies; see the [module docs](self).
    ///
    /// # Errors
    /// As [`plan`](Self::plan) and [`check_plan`](Self::check_plan) (a bad input line stops
    /// the run before the list is read), and [`SyncError::InvalidOption`] for a concurrency
    /// outside 1..=256 or a share over 100 %. Changes that fail are in the report.
    pub async fn run(self) -> Result<SyncReport, SyncError> {
        self.check()?;
        self.check_input()?;
        let plan = self.plan().await?;
        self.check_plan(&plan)?;
        if self.dry_run {
            return Ok(SyncReport::planned(plan));
        }
        self.apply(plan).await
    }

    fn check(&self) -> Result<(), SyncError> {
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            return Err(SyncError::InvalidOption {
                option: "concurrency",
                message: "must be between 1 and 256",
            });
        }
        if matches!(self.max_deletes, MaxDeletes::Percent(p) if p > 100) {
            return Err(SyncError::InvalidOption {
                option: "max_deletes",
                message: "a share is at most 100 percent",
            });
        }
        Ok(())
    }

    /// Applies `plan` (from [`plan`](Self::plan), or made by hand), ignoring
    /// [`dry_run`](Self::dry_run).
    ///
    /// # Errors
    /// [`SyncError::InvalidOption`] for a concurrency outside 1..=256.
    pub async fn apply(&self, plan: SyncPlan) -> Result<SyncReport, SyncError> {
        self.check()?;
        let mut report = SyncReport {
            unchanged: plan.unchanged,
            extra: plan.extra.into_iter().map(|e| e.identifier).collect(),
            ..SyncReport::default()
        };
        let notify = self.notify == Notify::Always;
        let mut work: Vec<Change> = plan
            .deletes
            .into_iter()
            .map(Change::Delete)
            .chain(plan.creates.into_iter().map(Change::Create))
            .collect();
        let total = work.len();
        // Deletes first: pop from the end.
        work.reverse();
        let pause = Arc::new(Mutex::new(None::<Instant>));
        let mut in_flight = FuturesUnordered::new();
        let mut done = 0usize;
        loop {
            while in_flight.len() < self.concurrency {
                let Some(change) = work.pop() else { break };
                in_flight.push(run_change(
                    self.target.clone(),
                    change,
                    notify,
                    self.rate_limit_retries,
                    Arc::clone(&pause),
                ));
            }
            let Some((change, outcome)) = in_flight.next().await else {
                break;
            };
            done = done.saturating_add(1);
            record(&mut report, change, outcome);
            if let Some(progress) = &self.progress {
                progress(SyncProgress::Applying { done, total });
            }
        }
        Ok(report)
    }
}

/// One change to make.
#[derive(Debug)]
enum Change {
    Create(Identifier),
    Delete(RemoteEntry),
}

impl Change {
    fn identifier(&self) -> String {
        match self {
            Change::Create(identifier) => identifier.to_string(),
            Change::Delete(entry) => entry.identifier.clone(),
        }
    }
}

/// Makes one change, sending it again after a 429 (up to `retries` times); every change of
/// the sync waits for the same end of pause.
async fn run_change<T: SyncTarget>(
    target: T,
    change: Change,
    notify: bool,
    retries: u32,
    pause: Arc<Mutex<Option<Instant>>>,
) -> (Change, Result<(), Error>) {
    let mut tries = 0u32;
    loop {
        let until = *pause.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(until) = until {
            tokio::time::sleep_until(until).await;
        }
        let result = match &change {
            Change::Create(identifier) => {
                target.create(identifier.clone(), notify).await.map(|_| ())
            }
            Change::Delete(entry) => target.delete(entry.id.clone()).await,
        };
        match result {
            Err(err) if err.status() == Some(StatusCode::TOO_MANY_REQUESTS) && tries < retries => {
                tries = tries.saturating_add(1);
                let wait = err
                    .retry_after()
                    .unwrap_or(Duration::from_secs(1))
                    .min(MAX_RATE_LIMIT_WAIT);
                if let Some(end) = Instant::now().checked_add(wait) {
                    let mut pause = pause.lock().unwrap_or_else(|p| p.into_inner());
                    if pause.is_none_or(|current| current < end) {
                        *pause = Some(end);
                    }
                }
            }
            other => return (change, other),
        }
    }
}

fn record(report: &mut SyncReport, change: Change, outcome: Result<(), Error>) {
    let identifier = change.identifier();
    match (&change, outcome) {
        (Change::Create(_), Ok(())) => report.created.push(identifier),
        (Change::Delete(_), Ok(())) => report.deleted.push(identifier),
        (Change::Create(_), Err(e)) if is_duplicate(&e) => report.already_present.push(identifier),
        (Change::Delete(_), Err(e)) if e.is_not_found() => report.already_gone.push(identifier),
        (Change::Create(_), Err(error)) => report.failed.push(SyncFailure {
            identifier,
            action: SyncAction::Create,
            error,
        }),
        (Change::Delete(_), Err(error)) => report.failed.push(SyncFailure {
            identifier,
            action: SyncAction::Delete,
            error,
        }),
    }
}

/// Clerk's answer to a create of an identifier already listed.
fn is_duplicate(err: &Error) -> bool {
    err.as_api().is_some_and(|api| {
        api.status() == StatusCode::BAD_REQUEST
            && api
                .errors()
                .iter()
                .any(|e| e.code == "duplicate_record" || e.code == "form_identifier_exists")
    })
}

/// The plan from the desired identifiers (each once) and the listed entries.
fn plan(desired: &[Identifier], listed: Vec<RemoteEntry>, delete_extra: bool) -> SyncPlan {
    let wanted: HashMap<String, &Identifier> = desired.iter().map(|id| (id.key(), id)).collect();
    let mut present: HashMap<String, ()> = HashMap::with_capacity(listed.len());
    let mut plan = SyncPlan::default();
    for entry in listed {
        let key = Identifier::key_of(&entry.identifier);
        let first = present.insert(key.clone(), ()).is_none();
        if first && wanted.contains_key(&key) {
            plan.unchanged.push(entry.identifier);
        } else if delete_extra {
            plan.deletes.push(entry);
        } else {
            plan.extra.push(entry);
        }
    }
    plan.creates = desired
        .iter()
        .filter(|id| !present.contains_key(&id.key()))
        .cloned()
        .collect();
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[&str]) -> Vec<Identifier> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn plans_compare_normalized_keys() {
        let desired = ids(&["ada@example.com", "+15555550100", "*@partner.example"]);
        let listed = vec![
            RemoteEntry::new("alid_1", "ADA@example.com"),
            RemoteEntry::new("alid_2", "gone@example.com"),
            RemoteEntry::new("alid_3", "ada@EXAMPLE.com"),
            RemoteEntry::new("alid_4", "weird value"),
        ];
        let kept = plan(&desired, listed.clone(), false);
        assert_eq!(kept.unchanged, ["ADA@example.com"]);
        let creates: Vec<&str> = kept.creates.iter().map(Identifier::as_str).collect();
        assert_eq!(creates, ["+15555550100", "*@partner.example"]);
        assert!(kept.deletes.is_empty());
        assert_eq!(
            kept.extra.len(),
            3,
            "the duplicate, the undesired, the unknown kind"
        );
        let exact = plan(&desired, listed, true);
        let deleted: Vec<&str> = exact.deletes.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(deleted, ["alid_2", "alid_3", "alid_4"]);
        assert!(exact.extra.is_empty());
    }
}
