//! Decoding a 500-identifier list page (paginated `{data, total_count}` and bare-array
//! shapes), bytes per second: the crate's models vs a plain `#[derive(Deserialize)]` struct
//! of `String`s.
//!
//! - `models_decode_json`: what the client does, [`clerk_tower::operation::decode_json`] (one
//!   UTF-8 check, then `serde_json::from_str`);
//! - `models_from_slice`: the models through `serde_json::from_slice`;
//! - `plain_from_slice`: the plain struct through `serde_json::from_slice`, what
//!   `reqwest::Response::json` does;
//! - `plain_from_str`: the plain struct with the client's UTF-8-once decode.
//!
//! ```text
//! cargo bench -p clerk-tower-benches --bench decode
//! ```

mod support;

use std::hint::black_box;

use bytes::Bytes;
use clerk_tower::models::AllowlistIdentifierList;
use clerk_tower::operation::decode_json;
use clerk_tower::HttpResponse;
use criterion::Throughput;
use http_body_util::Full;

use support::{interleave, PlainIdentifier, PlainPage};

fn models_decode_json(body: &Bytes) -> AllowlistIdentifierList {
    decode_json(HttpResponse::new(Full::new(body.clone()))).expect("decode")
}

fn models_from_slice(body: &Bytes) -> AllowlistIdentifierList {
    serde_json::from_slice(body).expect("decode")
}

fn plain_page_from_slice(body: &Bytes) -> PlainPage {
    serde_json::from_slice(body).expect("decode")
}

fn plain_page_from_str(body: &Bytes) -> PlainPage {
    serde_json::from_str(std::str::from_utf8(body).expect("utf-8")).expect("decode")
}

fn plain_bare_from_slice(body: &Bytes) -> Vec<PlainIdentifier> {
    serde_json::from_slice(body).expect("decode")
}

fn plain_bare_from_str(body: &Bytes) -> Vec<PlainIdentifier> {
    serde_json::from_str(std::str::from_utf8(body).expect("utf-8")).expect("decode")
}

/// A body shape: group name, body, and the plain-struct decoders (from a slice, from a
/// `&str`), each returning the number of identifiers.
type Shape = (
    &'static str,
    &'static Bytes,
    fn(&Bytes) -> usize,
    fn(&Bytes) -> usize,
);

fn main() {
    let f = support::fixtures();
    let shapes: [Shape; 2] = [
        (
            "decode_500_paginated",
            &f.page_500,
            |b| plain_page_from_slice(b).data.len(),
            |b| plain_page_from_str(b).data.len(),
        ),
        (
            "decode_500_bare",
            &f.bare_500,
            |b| plain_bare_from_slice(b).len(),
            |b| plain_bare_from_str(b).len(),
        ),
    ];
    for (_, body, plain_slice, plain_str) in &shapes {
        assert_eq!(models_decode_json(body).data.len(), 500);
        assert_eq!(models_from_slice(body).data.len(), 500);
        assert_eq!(plain_slice(body), 500);
        assert_eq!(plain_str(body), 500);
    }

    let mut crit = support::criterion();
    for (group, body, plain_slice, plain_str) in &shapes {
        let mut g = crit.benchmark_group(*group);
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function("models_decode_json", |b| {
            b.iter(|| black_box(models_decode_json(black_box(body))))
        });
        g.bench_function("models_from_slice", |b| {
            b.iter(|| black_box(models_from_slice(black_box(body))))
        });
        g.bench_function("plain_from_slice", |b| {
            b.iter(|| black_box(plain_slice(black_box(body))))
        });
        g.bench_function("plain_from_str", |b| {
            b.iter(|| black_box(plain_str(black_box(body))))
        });
        g.finish();
    }
    crit.final_summary();
    if !support::benchmarking() {
        return;
    }

    // A current-thread runtime only drives the interleaving macro; decoding is synchronous.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    for (group, body, plain_slice, plain_str) in &shapes {
        if !support::selected(group) {
            continue;
        }
        let table = interleave!(rt, 15, 200, {
            "models_decode_json" => async { black_box(models_decode_json(black_box(body))); },
            "models_from_slice" => async { black_box(models_from_slice(black_box(body))); },
            "plain_from_slice" => async { black_box(plain_slice(black_box(body))); },
            "plain_from_str" => async { black_box(plain_str(black_box(body))); },
        });
        table.print(
            &format!("{group} ({} bytes)", body.len()),
            &[
                ("models_decode_json", "plain_from_slice", 0.90),
                ("models_from_slice", "plain_from_slice", 0.0),
                ("models_decode_json", "plain_from_str", 0.0),
            ],
        );
        let mb_s = |name| body.len() as f64 / table.median_ns(name) * 1e9 / 1e6;
        println!(
            "  MB/s: models_decode_json {:.0}, plain_from_slice {:.0}",
            mb_s("models_decode_json"),
            mb_s("plain_from_slice")
        );
    }
}
