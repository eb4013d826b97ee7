//! The `clerk-allowlist` binary against the embedded mock over TCP (feature `cli`): commands,
//! output formats, exit codes, and a sync that converges under the mock's rate limit with no
//! 429.

use std::io::Write;
use std::process::{Command, Output};
use std::time::Duration;

use clerk_tower::mock::{Fault, FaultPlan, MockClerk, MockOperation, MockServer};

const BIN: &str = env!("CARGO_BIN_EXE_clerk-allowlist");

/// Runs the binary with `args`, pointed at `server` (or at nothing), off the runtime's threads.
async fn run(server: Option<&MockServer>, key: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("CLERK_SECRET_KEY")
        .env_remove("CLERK_API_URL");
    if let Some(server) = server {
        cmd.env("CLERK_SECRET_KEY", key)
            .env("CLERK_API_URL", server.base_url());
    }
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn file(contents: &str) -> tempfile_lite::File {
    tempfile_lite::File::new(contents)
}

/// A temporary file without a dependency: a unique path under the target directory's temp.
mod tempfile_lite {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicU64, Ordering};

    pub struct File(PathBuf);

    impl File {
        pub fn new(contents: &str) -> Self {
            static N: AtomicU64 = AtomicU64::new(0);
            let path = std::env::temp_dir().join(format!(
                "clerk-allowlist-test-{}-{}.txt",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::write(&path, contents).unwrap();
            File(path)
        }

        pub fn path(&self) -> &str {
            self.0.to_str().unwrap()
        }
    }

    impl Drop for File {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

#[tokio::test]
async fn sync_converges_under_the_rate_limit_with_no_429_and_then_has_nothing_to_do() {
    let mock = MockClerk::new()
        .with_rate_limit(40, Duration::from_secs(1))
        .unwrap();
    // A starting state: some desired entries (one with another case), some not.
    mock.insert("User000@Example.com").unwrap();
    mock.insert("user001@example.com").unwrap();
    for i in 0..5 {
        mock.insert(&format!("leaver{i}@example.com")).unwrap();
    }
    let server = mock.serve().await.unwrap();
    let mut lines = String::from("email\n");
    for i in 0..60 {
        lines.push_str(&format!("user{i:03}@example.com\n"));
    }
    lines.push_str("not an identifier\n(555) 555-0100\nuser007@EXAMPLE.com\n");
    let input = file(&lines);
    let args = [
        "--rate-limit",
        "40/1s",
        "sync",
        input.path(),
        "--delete-extra",
    ];
    let out = run(Some(&server), MockClerk::DEFAULT_SECRET_KEY, &args).await;
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(4),
        "bad lines were skipped: {stderr}"
    );
    assert!(
        stderr.contains("line 62: neither an e-mail address"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 63: phone number without a country code"),
        "{stderr}"
    );
    assert!(stderr.contains("line 64: duplicate of line 9"), "{stderr}");
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("allow-list: 58 created, 5 deleted, 2 unchanged"),
        "{stdout}"
    );
    assert_eq!(mock.identifiers().len(), 60);
    assert_eq!(mock.rate_limited_count(), 0, "no 429");

    let clean = file(&lines.replace("not an identifier\n(555) 555-0100\n", ""));
    let out = run(
        Some(&server),
        MockClerk::DEFAULT_SECRET_KEY,
        &[
            "--rate-limit",
            "40/1s",
            "sync",
            clean.path(),
            "--delete-extra",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "allow-list: nothing to do (60 unchanged, 0 extra kept)\n"
    );
    assert_eq!(mock.rate_limited_count(), 0);
    server.shutdown().await;
}

#[tokio::test]
async fn list_add_remove_dry_run_and_formats() {
    let mock = MockClerk::new();
    let server = mock.serve().await.unwrap();
    let key = MockClerk::DEFAULT_SECRET_KEY;
    let out = run(
        Some(&server),
        key,
        &["add", "Ada@Example.com", "+44 20 7946 0958", "nonsense"],
    )
    .await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("argument 3:"));
    assert!(text(&out.stdout).contains("2 created"));

    let out = run(Some(&server), key, &["add", "ada@example.com"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).contains("1 already present"),
        "{}",
        text(&out.stdout)
    );

    let out = run(Some(&server), key, &["list", "--json"]).await;
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let out = run(Some(&server), key, &["list", "--csv"]).await;
    let csv = text(&out.stdout);
    assert!(csv.starts_with("id,identifier\nalid_"), "{csv}");
    assert!(csv.contains(",ada@example.com\n"));
    let out = run(Some(&server), key, &["list"]).await;
    assert!(text(&out.stdout).contains("+442079460958\talid_"));

    let wanted = file("ada@example.com\nnew@example.com\n");
    let out = run(
        Some(&server),
        key,
        &["sync", wanted.path(), "--dry-run", "--delete-extra"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("+ new@example.com\n- +442079460958\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 would be created, 1 would be deleted"),
        "{stdout}"
    );
    assert_eq!(mock.identifiers().len(), 2, "a dry run changes nothing");

    let id = mock.identifiers()[0].id.clone();
    let out = run(Some(&server), key, &["remove", "ADA@example.com", &id]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("2 deleted"),
        "{}",
        text(&out.stdout)
    );
    assert!(mock.identifiers().is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn blocklist_and_restrictions_commands() {
    let mock = MockClerk::new();
    let server = mock.serve().await.unwrap();
    let key = MockClerk::DEFAULT_SECRET_KEY;
    let blocked = file("spam@example.com\n*@disposable.example\n");
    let out = run(Some(&server), key, &["blocklist", "sync", blocked.path()]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("block-list: 2 created"));
    assert_eq!(mock.blocklist().len(), 2);
    assert!(mock.identifiers().is_empty());
    let out = run(
        Some(&server),
        key,
        &["blocklist", "remove", "spam@example.com"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(mock.blocklist().len(), 1);

    let out = run(Some(&server), key, &["restrictions", "--allowlist", "on"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).starts_with("allowlist: on\nblocklist: off\n"));
    assert!(mock.restrictions().allowlist);
    let out = run(
        Some(&server),
        key,
        &["restrictions", "--allowlist", "off", "--blocklist", "on"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0));
    assert!(!mock.restrictions().allowlist && mock.restrictions().blocklist);
    server.shutdown().await;
}

#[tokio::test]
async fn exit_codes_and_trace_ids() {
    let mock = MockClerk::new();
    let server = mock.serve().await.unwrap();
    let key = MockClerk::DEFAULT_SECRET_KEY;

    // No key: a usage error, nothing sent.
    let out = run(None, key, &["list"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("CLERK_SECRET_KEY is not set"));
    // Bad arguments, unreadable file.
    assert_eq!(run(None, key, &["sync"]).await.status.code(), Some(2));
    let out = run(Some(&server), key, &["sync", "/nonexistent/ids.txt"]).await;
    assert_eq!(out.status.code(), Some(2));
    // A key the mock refuses: Clerk refused the command; the trace id is in the message and
    // the key is not.
    let out = run(Some(&server), "sk_test_wrong_key_123", &["list"]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("401") && stderr.contains("trace id "),
        "{stderr}"
    );
    assert!(!stderr.contains("wrong_key_123"), "{stderr}");
    // A change that fails: exit 1, the error with its trace id on stderr.
    mock.set_fault_plan(FaultPlan::new().always(MockOperation::Create, Fault::status(500)));
    let out = run(Some(&server), key, &["add", "x@example.com"]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("create x@example.com: Clerk API error 500") && stderr.contains("trace id"),
        "{stderr}"
    );
    // --help is not an error.
    assert_eq!(run(None, key, &["--help"]).await.status.code(), Some(0));
    server.shutdown().await;
}

#[tokio::test]
async fn the_embedded_mock_needs_no_key() {
    let out = run(None, "", &["--mock", "add", "ada@example.com"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("1 created"));
    let _ = std::io::stderr().flush();
}
