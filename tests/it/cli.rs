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

fn file(contents: impl AsRef<[u8]>) -> tempfile_lite::File {
    tempfile_lite::File::new(contents.as_ref())
}

/// A temporary file without a dependency: a unique path under the target directory's temp.
mod tempfile_lite {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicU64, Ordering};

    pub struct File(PathBuf);

    impl File {
        pub fn new(contents: &[u8]) -> Self {
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
    let mut args = vec![
        "--rate-limit",
        "40/1s",
        "sync",
        input.path(),
        "--delete-extra",
    ];
    // Bad lines stop a sync that deletes: nothing changed.
    let out = run(Some(&server), MockClerk::DEFAULT_SECRET_KEY, &args).await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert_eq!(mock.identifiers().len(), 7, "nothing changed");
    // Told to skip them, and to delete past the 10 % guard.
    args.extend(["--skip-bad-lines", "--yes"]);
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

    let clean = file(lines.replace("not an identifier\n(555) 555-0100\n", ""));
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
        &[
            "sync",
            wanted.path(),
            "--dry-run",
            "--delete-extra",
            "--yes",
        ],
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

/// The five identifiers of the files below, as the allow-list holds them.
const FIVE: [&str; 5] = [
    "ada@example.com",
    "bob@example.com",
    "+15555550100",
    "*@partner.example",
    "0x52908400098527886e0f7030069857d2e4169ee7",
];

fn utf16(text: &str, big_endian: bool, bom: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let units = bom
        .then_some(0xfeff_u16)
        .into_iter()
        .chain(text.encode_utf16());
    for unit in units {
        let bytes = if big_endian {
            unit.to_be_bytes()
        } else {
            unit.to_le_bytes()
        };
        out.extend_from_slice(&bytes);
    }
    out
}

/// Issue 19: with `--delete-extra`, no input file makes the sync delete an identifier the file
/// names. The allow-list holds five identifiers; each file below names the same five (or is
/// not understood): afterwards the five are still there, and the exit code says why.
#[tokio::test]
async fn no_input_file_makes_delete_extra_delete_what_it_names() {
    let lf = FIVE.join("\n") + "\n";
    let cases: Vec<(&str, Vec<u8>, i32)> = vec![
        // Understood: nothing to do.
        ("LF", lf.clone().into_bytes(), 0),
        ("CRLF", lf.replace('\n', "\r\n").into_bytes(), 0),
        ("CR only (old Mac)", lf.replace('\n', "\r").into_bytes(), 0),
        ("UTF-8 with BOM", format!("\u{feff}{lf}").into_bytes(), 0),
        ("UTF-16LE with BOM", utf16(&lf, false, true), 0),
        (
            "UTF-16BE with BOM, CRLF",
            utf16(&lf.replace('\n', "\r\n"), true, true),
            0,
        ),
        (
            "CSV, names in the first column",
            format!(
                "name,email\n{}",
                FIVE.iter()
                    .enumerate()
                    .map(|(i, id)| format!("\"Person {i}, Jr.\",{id}\n"))
                    .collect::<String>()
            )
            .into_bytes(),
            0,
        ),
        // Not text: refused as a whole.
        ("UTF-16LE without BOM", utf16(&lf, false, false), 4),
        ("UTF-16BE without BOM", utf16(&lf, true, false), 4),
        (
            "a stray NUL",
            lf.replacen("bob@", "bob\0@", 1).into_bytes(),
            4,
        ),
        (
            "invalid UTF-8",
            {
                let mut bytes = lf.clone().into_bytes();
                bytes.insert(3, 0xff);
                bytes
            },
            4,
        ),
        // A line that is not an identifier stops the run before its first change.
        (
            "a bad line",
            format!("{lf}not an identifier\n").into_bytes(),
            4,
        ),
        // Names nothing: never empties the list.
        ("empty file", Vec::new(), 5),
        ("comments only", b"# nobody\n\n# at all\n".to_vec(), 5),
        ("a CSV header only", b"name,email\n".to_vec(), 5),
    ];
    let mock = MockClerk::new();
    let server = mock.serve().await.unwrap();
    let key = MockClerk::DEFAULT_SECRET_KEY;
    let mut wrong = Vec::new();
    for (name, bytes, expected) in cases {
        mock.reset();
        for id in FIVE {
            mock.insert(id).unwrap();
        }
        let input = file(&bytes);
        let out = run(
            Some(&server),
            key,
            &["sync", input.path(), "--delete-extra"],
        )
        .await;
        let mut left: Vec<String> = mock
            .identifiers()
            .into_iter()
            .map(|i| i.identifier)
            .collect();
        left.sort();
        let mut five: Vec<String> = FIVE.iter().map(|s| s.to_string()).collect();
        five.sort();
        if left != five || out.status.code() != Some(expected) {
            wrong.push(format!(
                "{name}: exit {:?} (expected {expected}), {} of 5 left; stderr: {}",
                out.status.code(),
                left.len(),
                text(&out.stderr).trim()
            ));
        }
    }
    server.shutdown().await;
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

/// Deleting more than a share of the list (10 % by default) needs `--yes`; `--dry-run` shows
/// the same plan and the same refusal; a bad line stops even the creates; `--skip-bad-lines`
/// says to go on anyway.
#[tokio::test]
async fn deletes_past_the_share_need_yes_and_a_dry_run_shows_the_same_refusal() {
    let mock = MockClerk::new();
    let server = mock.serve().await.unwrap();
    let key = MockClerk::DEFAULT_SECRET_KEY;
    for id in FIVE {
        mock.insert(id).unwrap();
    }
    // Keeps three of five and adds one: two deletes, 40 % of the list.
    let three = file("ada@example.com\nbob@example.com\n+1 555 555 0100\nnew@example.com\n");
    let dry = run(
        Some(&server),
        key,
        &["sync", three.path(), "--delete-extra", "--dry-run"],
    )
    .await;
    let stdout = text(&dry.stdout);
    let stderr = text(&dry.stderr);
    assert_eq!(dry.status.code(), Some(5), "{stdout}{stderr}");
    assert!(stdout.contains("+ new@example.com\n"), "{stdout}");
    assert!(stdout.contains("- *@partner.example\n"), "{stdout}");
    assert!(stderr.contains("--yes"), "{stderr}");
    let real = run(
        Some(&server),
        key,
        &["sync", three.path(), "--delete-extra"],
    )
    .await;
    assert_eq!(real.status.code(), Some(5), "{}", text(&real.stderr));
    assert_eq!(
        text(&real.stderr),
        stderr,
        "the dry run's refusal is the run's"
    );
    assert_eq!(
        mock.identifiers().len(),
        5,
        "nothing changed, not even the create"
    );
    // A larger share allows it; so does --yes.
    let wider = run(
        Some(&server),
        key,
        &[
            "sync",
            three.path(),
            "--delete-extra",
            "--max-deletes",
            "40%",
            "--dry-run",
        ],
    )
    .await;
    assert_eq!(wider.status.code(), Some(0), "{}", text(&wider.stderr));
    let yes = run(
        Some(&server),
        key,
        &["sync", three.path(), "--delete-extra", "--yes"],
    )
    .await;
    assert_eq!(yes.status.code(), Some(0), "{}", text(&yes.stderr));
    assert!(
        text(&yes.stdout).contains("1 created, 2 deleted"),
        "{}",
        text(&yes.stdout)
    );
    assert_eq!(mock.identifiers().len(), 4);

    // A bad line: nothing at all, dry run or not; --skip-bad-lines goes on, and says so.
    let bad = file("ada@example.com\nbob@example.com\nnot an identifier\n");
    for extra in [&["--dry-run"][..], &[]] {
        let mut args = vec!["sync", bad.path(), "--delete-extra", "--yes"];
        args.extend_from_slice(extra);
        let out = run(Some(&server), key, &args).await;
        assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("line 3:"),
            "{}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains("--skip-bad-lines"),
            "{}",
            text(&out.stderr)
        );
    }
    assert_eq!(mock.identifiers().len(), 4);
    let out = run(
        Some(&server),
        key,
        &[
            "sync",
            bad.path(),
            "--delete-extra",
            "--yes",
            "--skip-bad-lines",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert_eq!(mock.identifiers().len(), 2);
    // Without --delete-extra, a bad line skips that line only (nothing can be deleted).
    let additive = file("carol@example.com\nnonsense\n");
    let out = run(Some(&server), key, &["sync", additive.path()]).await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert_eq!(mock.identifiers().len(), 3);
    server.shutdown().await;
}

/// A CSV's column named by header or by number; two columns of identifiers need one named.
#[tokio::test]
async fn csv_columns_by_name_or_number() {
    let mock = MockClerk::new();
    let server = mock.serve().await.unwrap();
    let key = MockClerk::DEFAULT_SECRET_KEY;
    let csv = file(
        "Name,Email,Manager\n\"Lovelace, Ada\",ada@example.com,boss@example.com\n\
         Bob,\"bob@example.com\",boss@example.com\n",
    );
    let out = run(Some(&server), key, &["sync", csv.path(), "--delete-extra"]).await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--column"),
        "{}",
        text(&out.stderr)
    );
    assert!(mock.identifiers().is_empty());
    let out = run(
        Some(&server),
        key,
        &["sync", csv.path(), "--delete-extra", "--column", "email"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mut listed: Vec<String> = mock
        .identifiers()
        .into_iter()
        .map(|i| i.identifier)
        .collect();
    listed.sort();
    assert_eq!(listed, ["ada@example.com", "bob@example.com"]);
    let out = run(
        Some(&server),
        key,
        &["sync", csv.path(), "--column", "3", "--dry-run"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("+ boss@example.com\n"));
    let out = run(
        Some(&server),
        key,
        &["sync", csv.path(), "--column", "phone"],
    )
    .await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    server.shutdown().await;
}
