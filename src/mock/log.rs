//! A line logger that never blocks its callers: [`LogSink`].

use std::fmt;
use std::io::Write;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Lines of text written to a [`Write`] (stderr, a file, ...) by a dedicated thread, so that
/// whoever logs never waits for the writer.
///
/// [`line`](LogSink::line) puts the line in a bounded queue and returns at once. When the
/// queue is full (the writer is slow, or blocked: a stderr pipe that nobody reads) the line is
/// dropped and counted ([`dropped`](LogSink::dropped)); once lines get through again, the
/// thread first writes a note saying how many were dropped, e.g.
/// `(12 log lines dropped: the output did not keep up)`. Lines are written whole, each
/// followed by `\n`, in the order they were queued; write errors are ignored.
///
/// Cheap to clone: clones share the queue, the thread and the counter. The thread ends once
/// every clone is dropped and the queue is written out; while its writer blocks, it blocks with
/// it (and is left behind at process exit). The `clerk-mock` binary logs its requests this
/// way.
///
/// ```
/// use std::time::Duration;
/// use clerk_tower::mock::{LogSink, MockClerk};
///
/// let sink = LogSink::new(std::io::stderr())?;
/// let mock = MockClerk::new();
/// let log = sink.clone();
/// mock.on_request(move |request, elapsed| {
///     log.line(format!("{} {} {:?}", request.method, request.path_and_query(), elapsed));
/// });
/// // ... serve requests ...
/// sink.flush(Duration::from_secs(1)); // before exiting: wait (a little) for the writer
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct LogSink {
    tx: SyncSender<Message>,
    counts: Arc<Counts>,
}

#[derive(Default)]
struct Counts {
    /// Lines dropped since the sink was made.
    dropped: AtomicU64,
    /// Lines dropped that no queued message reports yet.
    unreported: AtomicU64,
}

enum Message {
    Line {
        /// Lines dropped just before this one.
        dropped_before: u64,
        text: String,
    },
    Flush {
        dropped_before: u64,
        done: mpsc::Sender<()>,
    },
}

impl LogSink {
    /// How many lines the queue holds by default.
    pub const DEFAULT_CAPACITY: NonZeroUsize = NonZeroUsize::MIN.saturating_add(1023);

    /// A sink writing to `writer` from a new thread, with a queue of
    /// [`DEFAULT_CAPACITY`](LogSink::DEFAULT_CAPACITY) (1024) lines.
    ///
    /// # Errors
    ///
    /// When the thread cannot be started.
    pub fn new<W: Write + Send + 'static>(writer: W) -> std::io::Result<LogSink> {
        Self::with_capacity(writer, Self::DEFAULT_CAPACITY)
    }

    /// A sink writing to `writer` from a new thread, with a queue of `capacity` lines.
    ///
    /// # Errors
    ///
    /// When the thread cannot be started.
    pub fn with_capacity<W: Write + Send + 'static>(
        writer: W,
        capacity: NonZeroUsize,
    ) -> std::io::Result<LogSink> {
        let (tx, rx) = mpsc::sync_channel(capacity.get());
        std::thread::Builder::new()
            .name("clerk-mock-log".to_owned())
            .spawn(move || write_lines(writer, rx))?;
        Ok(LogSink {
            tx,
            counts: Arc::new(Counts::default()),
        })
    }

    /// Queues a line (without its `\n`), or drops and counts it when the queue is full.
    /// Never blocks.
    pub fn line(&self, text: impl Into<String>) {
        let dropped_before = self.counts.unreported.swap(0, Ordering::AcqRel);
        let message = Message::Line {
            dropped_before,
            text: text.into(),
        };
        if let Err(TrySendError::Full(message) | TrySendError::Disconnected(message)) =
            self.tx.try_send(message)
        {
            self.count_dropped(message.dropped_before(), 1);
        }
    }

    /// How many lines were dropped because the queue was full, since the sink was made.
    pub fn dropped(&self) -> u64 {
        self.counts.dropped.load(Ordering::Acquire)
    }

    /// Waits, at most `timeout`, until every line queued before the call is written (and the
    /// writer flushed), writing the note about dropped lines if one is due. Returns whether
    /// that happened in time. The only method that waits; meant for the end of a program.
    pub fn flush(&self, timeout: Duration) -> bool {
        let started = Instant::now();
        let (done_tx, done_rx) = mpsc::channel();
        let mut message = Message::Flush {
            dropped_before: self.counts.unreported.swap(0, Ordering::AcqRel),
            done: done_tx,
        };
        loop {
            match self.tx.try_send(message) {
                Ok(()) => break,
                Err(TrySendError::Full(back)) => {
                    if started.elapsed() >= timeout {
                        self.count_dropped(back.dropped_before(), 0);
                        return false;
                    }
                    message = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(TrySendError::Disconnected(back)) => {
                    self.count_dropped(back.dropped_before(), 0);
                    return false;
                }
            }
        }
        done_rx
            .recv_timeout(timeout.saturating_sub(started.elapsed()))
            .is_ok()
    }

    /// Counts `new` dropped lines, and gives back the `unreported` count a message that did
    /// not get through carried.
    fn count_dropped(&self, carried: u64, new: u64) {
        let add = |counter: &AtomicU64, n: u64| {
            let _ = counter.fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| {
                Some(c.saturating_add(n))
            });
        };
        add(&self.counts.dropped, new);
        add(&self.counts.unreported, carried.saturating_add(new));
    }
}

impl Message {
    fn dropped_before(&self) -> u64 {
        match self {
            Message::Line { dropped_before, .. } | Message::Flush { dropped_before, .. } => {
                *dropped_before
            }
        }
    }
}

impl fmt::Debug for LogSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogSink")
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

/// The thread: writes each message as it comes, until every sender is gone.
fn write_lines<W: Write>(mut writer: W, rx: Receiver<Message>) {
    for message in rx {
        let dropped_before = message.dropped_before();
        if dropped_before > 0 {
            let plural = if dropped_before == 1 { "" } else { "s" };
            let note = format!(
                "({dropped_before} log line{plural} dropped: the output did not keep up)\n"
            );
            let _ = writer.write_all(note.as_bytes());
        }
        match message {
            Message::Line { mut text, .. } => {
                text.push('\n');
                let _ = writer.write_all(text.as_bytes());
                let _ = writer.flush();
            }
            Message::Flush { done, .. } => {
                let _ = writer.flush();
                let _ = done.send(());
            }
        }
    }
}
