//! Tests of the `/metrics` exposition: every line parses back (label values escaped), the
//! histograms keep our buckets and their format, and the always-shown series are there.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use serde_json::json;

use super::{Metrics, record_tool_calls};
use crate::checks::rpc::RpcMessage;

/// One sample line of the text format: its name, its labels (unescaped) and its value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

/// Parses a sample line of the Prometheus text format 0.0.4 strictly: a label value is a
/// quoted string in which only `\\`, `\"` and `\n` are escapes.
fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .ok_or_else(|| format!("no value: {line:?}"))?;
    let (name, mut rest) = line.split_at(name_end);
    if name.is_empty() {
        return Err(format!("no name: {line:?}"));
    }
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = after;
        loop {
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let eq = rest.find('=').ok_or_else(|| format!("no '=': {line:?}"))?;
            let key = &rest[..eq];
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("bad label name {key:?}: {line:?}"));
            }
            let mut chars = rest[eq + 1..]
                .strip_prefix('"')
                .ok_or_else(|| format!("unquoted value: {line:?}"))?
                .char_indices();
            let mut value = String::new();
            let end = loop {
                match chars.next() {
                    Some((i, '"')) => break i,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, '"')) => value.push('"'),
                        Some((_, 'n')) => value.push('\n'),
                        other => return Err(format!("bad escape {other:?}: {line:?}")),
                    },
                    Some((_, '\n')) => return Err(format!("raw newline: {line:?}")),
                    Some((_, c)) => value.push(c),
                    None => return Err(format!("unterminated value: {line:?}")),
                }
            };
            labels.push((key.to_owned(), value));
            rest = &rest[eq + 1 + 1 + end + 1..];
            rest = rest.strip_prefix(',').unwrap_or(rest);
        }
    }
    let value = rest
        .strip_prefix(' ')
        .ok_or_else(|| format!("no space before the value: {line:?}"))?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        v => v
            .parse()
            .map_err(|_| format!("bad value {v:?}: {line:?}"))?,
    };
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// Every sample of an exposition; fails on a line that is neither a comment nor a sample.
fn parse(text: &str) -> Result<Vec<Sample>, String> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(parse_sample)
        .collect()
}

async fn render(m: &Metrics) -> String {
    let backend = sessiongate_backend_pty::PtyBackend::new(Default::default());
    m.render(&backend).await
}

#[tokio::test]
async fn a_channel_name_with_quote_backslash_and_newline_renders_escaped() {
    let m = Metrics::new();
    let name = "a\"b\\c\nd";
    m.notification(name, "failed");
    m.notification("plain", "sent");
    let text = render(&m).await;
    let samples = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let channels: Vec<&str> = samples
        .iter()
        .filter(|s| s.name == "sessiongate_notifications_total")
        .flat_map(|s| &s.labels)
        .filter(|(k, _)| k == "channel")
        .map(|(_, v)| v.as_str())
        .collect();
    assert!(channels.contains(&name), "{channels:?}\n{text}");
    let sent = samples
        .iter()
        .find(|s| s.labels.iter().any(|(k, v)| k == "channel" && v == name));
    assert_eq!(sent.map(|s| s.value), Some(1.0), "{text}");
    assert!(channels.contains(&"plain"), "{channels:?}\n{text}");
    assert!(
        text.contains(
            "sessiongate_notifications_total{channel=\"a\\\"b\\\\c\\nd\",outcome=\"failed\"} 1\n"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn the_always_shown_series_are_there_from_the_start() {
    let text = render(&Metrics::new()).await;
    for line in [
        "sessiongate_auth_failures_total{reason=\"missing\"} 0",
        "sessiongate_auth_failures_total{reason=\"invalid\"} 0",
        "sessiongate_auth_failures_total{reason=\"insufficient_scope\"} 0",
        "sessiongate_fast_lane_calls_total{request=\"session\"} 0",
        "sessiongate_fast_lane_calls_total{request=\"stateless\"} 0",
        "sessiongate_sessions{state=\"running\"} 0",
        "sessiongate_sessions{state=\"exited\"} 0",
        "sessiongate_backend_up 1",
        "# TYPE sessiongate_auth_failures_total counter",
        "# TYPE sessiongate_sessions gauge",
        "# TYPE process_resident_memory_bytes gauge",
        "# TYPE process_start_time_seconds gauge",
    ] {
        assert!(text.lines().any(|l| l == line), "{line}\n{text}");
    }
    parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
}

#[tokio::test]
async fn a_tool_call_shows_its_count_and_a_histogram_with_our_buckets() {
    let m = Arc::new(Metrics::new());
    for name in ["list_sessions", "list_sessions", "no_such_tool"] {
        let mut req = Request::new(Body::empty());
        req.extensions_mut().insert(RpcMessage::new(json!({
            "jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": { "name": name }
        })));
        drop(record_tool_calls(&m, req, async |_| Response::new(Body::empty())).await);
    }
    m.fast_lane_call(true);
    let text = render(&m).await;
    let lines: Vec<&str> = text.lines().collect();
    for line in [
        "# TYPE sessiongate_tool_calls_total counter",
        "sessiongate_tool_calls_total{tool=\"list_sessions\"} 2",
        "sessiongate_tool_calls_total{tool=\"unknown\"} 1",
        "# TYPE sessiongate_tool_call_duration_seconds histogram",
        "sessiongate_tool_call_duration_seconds_bucket{tool=\"list_sessions\",le=\"30\"} 2",
        "sessiongate_tool_call_duration_seconds_bucket{tool=\"list_sessions\",le=\"+Inf\"} 2",
        "sessiongate_tool_call_duration_seconds_count{tool=\"list_sessions\"} 2",
        "sessiongate_tool_call_duration_seconds_count{tool=\"unknown\"} 1",
        "sessiongate_fast_lane_calls_total{request=\"stateless\"} 1",
    ] {
        assert!(lines.contains(&line), "{line}\n{text}");
    }
    let les: Vec<String> = parse(&text)
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
        .into_iter()
        .filter(|s| s.name == "sessiongate_tool_call_duration_seconds_bucket")
        .filter(|s| s.labels[0] == ("tool".into(), "unknown".into()))
        .map(|s| s.labels[1].1.clone())
        .collect();
    assert_eq!(
        les,
        [
            "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "1", "5",
            "30", "+Inf"
        ]
    );
}

#[test]
fn histograms_are_cumulative() {
    let m = Metrics::new();
    let h = &m.tool(None).latency;
    h.observe(0.0004);
    h.observe(0.02);
    h.observe(100.0);
    let mut text = String::new();
    m.encode_series(&mut text);
    for line in [
        "sessiongate_tool_call_duration_seconds_bucket{tool=\"unknown\",le=\"0.0005\"} 1",
        "sessiongate_tool_call_duration_seconds_bucket{tool=\"unknown\",le=\"0.025\"} 2",
        "sessiongate_tool_call_duration_seconds_bucket{tool=\"unknown\",le=\"30\"} 2",
        "sessiongate_tool_call_duration_seconds_bucket{tool=\"unknown\",le=\"+Inf\"} 3",
        "sessiongate_tool_call_duration_seconds_count{tool=\"unknown\"} 3",
    ] {
        assert!(text.lines().any(|l| l == line), "{line}\n{text}");
    }
}
