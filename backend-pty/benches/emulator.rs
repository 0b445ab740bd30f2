//! What the PTY backend's terminal emulator costs: feeding output through it (MB/s, for plain
//! text and for colourful TUI redraws) and rendering a screen to text (visible screen, and a
//! page deep in a full 10,000-line scrollback).
//!
//! Run with `cargo bench -p sessiongate-backend-pty --bench emulator`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_main};

use sessiongate_backend_pty::render;

fn parser(scrollback: usize) -> render::Emulator {
    render::emulator(40, 120, scrollback)
}

/// About 1 MiB of log-like text.
fn plain_text() -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while out.len() < 1 << 20 {
        out.extend_from_slice(
            format!("{i:>6} INFO compiling crate number {i} of the workspace, all good\r\n")
                .as_bytes(),
        );
        i += 1;
    }
    out
}

/// About 1 MiB of TUI redraws: cursor moves, colours, box drawing, a spinner.
fn tui_redraws() -> Vec<u8> {
    let mut out = Vec::new();
    let mut frame = 0;
    while out.len() < 1 << 20 {
        out.extend_from_slice(b"\x1b[H\x1b[2J");
        for row in 1..=38 {
            out.extend_from_slice(
                format!(
                    "\x1b[{row};1H\x1b[38;5;{}m│\x1b[0m \x1b[1m{frame}\x1b[22m line {row} ─ \x1b[3mthinking…\x1b[23m ✻ \x1b[K",
                    row % 255
                )
                .as_bytes(),
            );
        }
        out.extend_from_slice(b"\x1b[40;1H\x1b[7m esc to interrupt \x1b[27m");
        frame += 1;
    }
    out
}

fn feed(c: &mut Criterion) {
    let mut g = c.benchmark_group("feed");
    for (name, data) in [("plain_text", plain_text()), ("tui_redraws", tui_redraws())] {
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut p = parser(10_000);
                // Feed in 16 KiB chunks, as the reader task does.
                for chunk in data.chunks(16 * 1024) {
                    p.process(black_box(chunk));
                }
                p
            })
        });
    }
    g.finish();
}

fn render_screen(c: &mut Criterion) {
    let mut g = c.benchmark_group("render");
    let mut full = parser(10_000);
    let mut text = Vec::new();
    for i in 0..12_000 {
        text.extend_from_slice(format!("line {i} of output with some words in it\r\n").as_bytes());
    }
    full.process(&text);
    g.bench_function("visible_screen", |b| {
        b.iter(|| render::lines(black_box(&full), 0, false, false))
    });
    g.bench_function("last_40_lines_with_scrollback", |b| {
        b.iter(|| render::lines(black_box(&full), 40, true, false))
    });
    g.bench_function("page_5000_lines_back", |b| {
        b.iter(|| render::lines(black_box(&full), 5040, true, false))
    });
    g.finish();
}

/// The benchmark group.
fn benches() {
    let mut c = Criterion::default().configure_from_args();
    feed(&mut c);
    render_screen(&mut c);
}
criterion_main!(benches);
