//! `cargo xtask generate [--check]`: generates the API from Clerk's OpenAPI spec and the
//! overlay of corrections.
//!
//! Inputs: `spec/bapi-*.yml` (Clerk's spec, vendored) and `spec/overlay.yaml` (an OpenAPI
//! Overlay 1.0 document). Outputs, all checked in: `src/api/generated/` (with `spec.json`, the
//! spec with the overlay applied, which the mock embeds and the tests read),
//! `src/models/generated/`, `tests/it/generated/`, `docs/coverage.md`, and the generated
//! block of `Cargo.toml`'s features. Rust files are formatted by the toolchain's `rustfmt`, so
//! the output is exactly what `cargo fmt` leaves.
//!
//! With `--check`, nothing is written: the command fails, naming the files, when the
//! checked-in output differs from what it would generate.

mod doc;
mod emit;
mod ir;
mod names;

/// The spec engine (crate `clerk-tower-spec`) under the names the generator uses.
mod spec {
    pub use clerk_tower_spec::json::{deref, pointer, Json};
    pub use clerk_tower_spec::overlay::{apply_overlay, Action};
    pub use clerk_tower_spec::yaml::parse_yaml;
    /// A node of the spec: JSON whose objects keep the spec's order (`preserve_order`).
    pub type Node = serde_json::Value;
}

/// Sample strings for formats and patterns (the generated sample requests).
mod pattern {
    pub use clerk_tower_spec::sample::{format_sample, pattern_sample};
}

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

/// The spec the generator reads (its version is in its name and in `info.version`).
const SPEC: &str = "spec/bapi-2026-05-12.yml";
const OVERLAY: &str = "spec/overlay.yaml";
/// The spec with the overlay applied, as JSON: what the mock embeds and the tests read.
const RESOLVED: &str = "src/api/generated/spec.json";
/// Directories the generator owns: files in them that it does not generate are stale.
const OWNED_DIRS: &[&str] = &[
    "src/api/generated",
    "src/models/generated",
    "tests/it/generated",
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["generate"] => generate(false),
        ["generate", "--check"] => generate(true),
        _ => Err("usage: cargo xtask generate [--check]".to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    // xtask/ is one level below the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn read(root: &Path, path: &str) -> Result<String, String> {
    std::fs::read_to_string(root.join(path)).map_err(|e| format!("cannot read {path}: {e}"))
}

/// Every generated file, by path relative to the root, formatted.
fn render(root: &Path) -> Result<BTreeMap<String, String>, String> {
    let mut doc = spec::parse_yaml(&read(root, SPEC)?, SPEC)?;
    let overlay = spec::parse_yaml(&read(root, OVERLAY)?, OVERLAY)?;
    let actions = spec::apply_overlay(&mut doc, &overlay)?;
    let api = ir::build(&doc, actions)?;
    if !SPEC.contains(&api.version) {
        return Err(format!(
            "{SPEC} says info.version {}, not its file name",
            api.version
        ));
    }

    let mut files = BTreeMap::new();
    for (name, text) in emit::api::files(&api)? {
        files.insert(format!("src/api/generated/{name}"), text);
    }
    for (name, text) in emit::models::files(&api)? {
        files.insert(format!("src/models/generated/{name}"), text);
    }
    files.insert(
        "tests/it/generated/mod.rs".to_owned(),
        emit::samples::file(&api)?,
    );
    let mut out = BTreeMap::new();
    for (path, text) in files {
        let formatted = rustfmt(root, &text).map_err(|e| format!("{path}: {e}"))?;
        out.insert(path, formatted);
    }
    out.insert(RESOLVED.to_owned(), resolved(doc)?);
    out.insert("docs/coverage.md".to_owned(), emit::docs::coverage(&api));
    out.insert(
        "Cargo.toml".to_owned(),
        emit::docs::cargo_toml(&read(root, "Cargo.toml")?, &api)?,
    );
    Ok(out)
}

/// The spec with the overlay applied, as pretty JSON in the spec's order: the contract the
/// mock embeds and the tests read, so that all three see the corrections. A first member says
/// where it comes from.
fn resolved(doc: spec::Node) -> Result<String, String> {
    let serde_json::Value::Object(members) = doc else {
        return Err(format!("{SPEC} is not a mapping"));
    };
    let mut out = serde_json::Map::new();
    out.insert(
        "x-clerk-generated".to_owned(),
        format!("by `cargo xtask generate` from {SPEC} and {OVERLAY}: edit those, not this file")
            .into(),
    );
    out.extend(members);
    let mut text = serde_json::to_string_pretty(&serde_json::Value::Object(out))
        .map_err(|e| format!("{RESOLVED}: {e}"))?;
    text.push('\n');
    Ok(text)
}

/// Formats Rust source with the toolchain's rustfmt (the repository's configuration, edition
/// 2021), as `cargo fmt` would.
fn rustfmt(root: &Path, source: &str) -> Result<String, String> {
    let rustfmt = std::env::var("RUSTFMT").unwrap_or_else(|_| "rustfmt".to_owned());
    let mut child = Command::new(&rustfmt)
        .args(["--edition", "2021", "--emit", "stdout", "--quiet"])
        .current_dir(root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {rustfmt} (rustup component add rustfmt): {e}"))?;
    let mut stdin = child.stdin.take().ok_or("rustfmt has no stdin")?;
    let input = source.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child
        .wait_with_output()
        .map_err(|e| format!("rustfmt: {e}"))?;
    writer
        .join()
        .map_err(|_| "rustfmt: the writer thread panicked".to_owned())?
        .map_err(|e| format!("rustfmt: {e}"))?;
    if !output.status.success() {
        // Keep the unformatted source where it can be read.
        let dump = std::env::temp_dir().join("xtask-unformatted.rs");
        let _ = std::fs::write(&dump, source);
        return Err(format!(
            "rustfmt failed ({}); the source is in {}:\n{}",
            output.status,
            dump.display(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    String::from_utf8(output.stdout).map_err(|e| format!("rustfmt wrote non-UTF-8: {e}"))
}

/// Files in the owned directories that the generator would not write.
fn stale(root: &Path, files: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for dir in OWNED_DIRS {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .map(|e| format!("{dir}/{}", e.file_name().to_string_lossy()))
            .collect();
        names.sort();
        out.extend(names.into_iter().filter(|n| !files.contains_key(n)));
    }
    out
}

fn generate(check: bool) -> Result<(), String> {
    let root = root();
    let files = render(&root)?;
    let stale = stale(&root, &files);
    if check {
        let mut differ: Vec<String> = files
            .iter()
            .filter(|(path, text)| {
                std::fs::read_to_string(root.join(path)).ok().as_deref() != Some(text.as_str())
            })
            .map(|(path, _)| path.clone())
            .collect();
        differ.extend(stale.iter().map(|s| format!("{s} (not generated: stale)")));
        if differ.is_empty() {
            println!("generated code is up to date ({} files)", files.len());
            return Ok(());
        }
        return Err(format!(
            "the checked-in output differs from what the spec and the overlay generate; run \
             `cargo xtask generate`:\n  {}",
            differ.join("\n  ")
        ));
    }
    for dir in OWNED_DIRS {
        std::fs::create_dir_all(root.join(dir)).map_err(|e| format!("{dir}: {e}"))?;
    }
    for path in &stale {
        std::fs::remove_file(root.join(path)).map_err(|e| format!("{path}: {e}"))?;
    }
    let mut written = 0;
    for (path, text) in &files {
        let target = root.join(path);
        if std::fs::read_to_string(&target).ok().as_deref() == Some(text.as_str()) {
            continue;
        }
        std::fs::write(&target, text).map_err(|e| format!("{path}: {e}"))?;
        written += 1;
    }
    println!(
        "{} files generated ({written} changed, {} stale removed)",
        files.len(),
        stale.len()
    );
    Ok(())
}
