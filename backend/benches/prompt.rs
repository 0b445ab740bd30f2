//! What prompt detection costs on a full screen: every recorded screen in
//! `backend/rules/fixtures` through its agent's rules (and the generic ones).
//!
//! Run with `cargo bench -p sessiongate-backend --bench prompt`.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_main};

use sessiongate_backend::prompt::{Agent, detect, detect_with};

/// The plain-text fixtures of one agent's folder, by file name.
fn fixtures(folder: &str) -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("rules/fixtures")
        .join(folder);
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("fixtures folder")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "txt") && !p.to_string_lossy().ends_with(".ansi.txt")
        })
        .map(|p| {
            let name = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, std::fs::read_to_string(&p).expect("fixture"))
        })
        .collect();
    out.sort();
    out
}

fn detection(c: &mut Criterion) {
    let mut g = c.benchmark_group("detect");
    for (folder, agent) in [
        ("claude-code", Agent::ClaudeCode),
        ("codex", Agent::Codex),
        ("gemini", Agent::Gemini),
    ] {
        for (name, screen) in fixtures(folder) {
            g.bench_function(format!("{folder}/{name}"), |b| {
                b.iter(|| detect(black_box(&screen), agent))
            });
        }
    }
    // A screen no rule knows: every rule is tried and none matches.
    let noise: String = (0..40)
        .map(|i| format!("{i:>4} compiling module number {i} with some more words\n"))
        .collect();
    g.bench_function("generic/no-match-40-lines", |b| {
        b.iter(|| detect_with(black_box(&noise), Agent::Unknown, false))
    });
    g.finish();
}

/// The benchmark group.
fn benches() {
    let mut c = Criterion::default().configure_from_args();
    detection(&mut c);
}
criterion_main!(benches);
