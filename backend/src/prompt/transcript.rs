//! Claude Code's transcript (`~/.claude/projects/<mangled cwd>/<sessionId>.jsonl`) turned into
//! compact items: what the user said, what Claude answered, the tools it called and what they
//! returned. Far cleaner than the screen, and cheap: only the file's tail is read.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

/// How much of the end of a transcript is read.
pub const MAX_TAIL: u64 = 2 * 1024 * 1024;
/// How long one item's text may be.
const MAX_ITEM_TEXT: usize = 2000;

/// One step of the conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TranscriptItem {
    /// `user`, `assistant`, `tool_use` or `tool_result`.
    pub kind: &'static str,
    /// The text (a tool call's input, summarised; a tool result, shortened).
    pub text: String,
    /// The tool's name, for tool calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// When it happened, as Claude Code recorded it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
}

/// Why a transcript could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TranscriptError {
    /// There is no transcript at the path.
    #[error("no transcript at {0}")]
    Missing(PathBuf),
    /// The path is not a regular file.
    #[error("{0} is not a regular file")]
    NotRegular(PathBuf),
    /// Reading failed.
    #[error("reading the transcript failed: {0}")]
    Io(#[from] std::io::Error),
}

/// The transcript's path: Claude Code names the folder after the working directory with
/// every character other than a letter, digit or `-` replaced by `-`.
pub fn transcript_path(home: &Path, cwd: &Path, session_id: &str) -> PathBuf {
    let mangled: String = cwd
        .to_string_lossy()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    home.join(".claude/projects")
        .join(mangled)
        .join(format!("{session_id}.jsonl"))
}

fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(MAX_ITEM_TEXT).collect();
    if s.chars().count() > MAX_ITEM_TEXT {
        out.push('…');
    }
    out
}

fn result_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn items_of(line: &Value) -> Vec<TranscriptItem> {
    let kind = line.get("type").and_then(Value::as_str).unwrap_or("");
    if !matches!(kind, "user" | "assistant")
        || line.get("isSidechain") == Some(&Value::Bool(true))
        || line.get("isMeta") == Some(&Value::Bool(true))
    {
        return Vec::new();
    }
    let timestamp = line
        .get("timestamp")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let item = |kind: &'static str, text: String, tool: Option<String>| TranscriptItem {
        kind,
        text: clip(&text),
        tool,
        timestamp: timestamp.clone(),
    };
    let role: &'static str = if kind == "user" { "user" } else { "assistant" };
    match line.get("message").and_then(|m| m.get("content")) {
        Some(Value::String(s)) => vec![item(role, s.clone(), None)],
        Some(Value::Array(blocks)) => blocks
            .iter()
            .filter_map(|b| match b.get("type").and_then(Value::as_str)? {
                "text" => Some(item(role, b.get("text")?.as_str()?.to_owned(), None)),
                "tool_use" => {
                    let name = b
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                        .to_owned();
                    let input = b.get("input").cloned().unwrap_or(Value::Null);
                    let summary = input
                        .get("command")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .unwrap_or_else(|| input.to_string());
                    Some(item("tool_use", summary, Some(name)))
                }
                "tool_result" => Some(item(
                    "tool_result",
                    result_text(b.get("content").unwrap_or(&Value::Null)),
                    None,
                )),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The last `limit` items of the transcript at `path`. Malformed lines are skipped.
pub fn read_transcript(path: &Path, limit: usize) -> Result<Vec<TranscriptItem>, TranscriptError> {
    let meta = std::fs::symlink_metadata(path)
        .map_err(|_| TranscriptError::Missing(path.to_path_buf()))?;
    if !meta.file_type().is_file() {
        return Err(TranscriptError::NotRegular(path.to_path_buf()));
    }
    let mut f = std::fs::File::open(path)?;
    let len = meta.len();
    let start = len.saturating_sub(MAX_TAIL);
    f.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::new();
    f.take(MAX_TAIL).read_to_end(&mut buf)?;
    Ok(parse_tail(&buf, start > 0, limit))
}

/// The last `limit` items of a transcript's tail `buf`; `cut` says that the tail starts in
/// the middle of the file (its first line is then incomplete and skipped). Malformed lines
/// are skipped.
pub fn parse_tail(buf: &[u8], cut: bool, limit: usize) -> Vec<TranscriptItem> {
    let text = String::from_utf8_lossy(buf);
    let mut lines = text.lines();
    if cut {
        // The first line was cut in the middle.
        lines.next();
    }
    let mut items: Vec<TranscriptItem> = lines
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .flat_map(|v| items_of(&v))
        .collect();
    let skip = items.len().saturating_sub(limit);
    items.split_off(skip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_come_out_compact_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let lines = [
            r#"{"type":"mode","mode":"normal"}"#,
            r#"{"type":"user","message":{"role":"user","content":"Create a marker file please"},"timestamp":"t1"}"#,
            r#"{"type":"assistant","message":{"role":"assistant","content":[{"type":"tool_use","id":"x","name":"Bash","input":{"command":"touch /tmp/m","description":"d"}}]}}"#,
            "{this line is broken",
            r#"{"type":"user","message":{"role":"user","content":[{"tool_use_id":"x","type":"tool_result","content":"(Bash completed with no output)"}]}}"#,
            r#"{"type":"user","isSidechain":true,"message":{"content":"hidden"}}"#,
            r#"{"type":"assistant","message":{"content":[{"type":"text","text":"All done."}]}}"#,
        ];
        std::fs::write(&path, lines.join("\n")).unwrap();
        let items = read_transcript(&path, 10).unwrap();
        let kinds: Vec<&str> = items.iter().map(|i| i.kind).collect();
        assert_eq!(kinds, vec!["user", "tool_use", "tool_result", "assistant"]);
        assert_eq!(items[1].tool.as_deref(), Some("Bash"));
        assert_eq!(items[1].text, "touch /tmp/m");
        assert_eq!(items[3].text, "All done.");
        let last = read_transcript(&path, 2).unwrap();
        assert_eq!(last.len(), 2);
        assert_eq!(last[1].text, "All done.");
    }

    #[test]
    fn missing_hostile_and_huge_files() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            read_transcript(&dir.path().join("none"), 5),
            Err(TranscriptError::Missing(_))
        ));
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("link")).unwrap();
        assert!(matches!(
            read_transcript(&dir.path().join("link"), 5),
            Err(TranscriptError::NotRegular(_))
        ));
        assert!(matches!(
            read_transcript(dir.path(), 5),
            Err(TranscriptError::NotRegular(_))
        ));
        // A huge file: only the tail is read, and the cut first line is skipped.
        let path = dir.path().join("big.jsonl");
        let filler = format!("{}\n", r#"{"type":"user","message":{"content":"x"}}"#).repeat(80_000);
        std::fs::write(
            &path,
            format!(
                "{filler}{}\n",
                r#"{"type":"assistant","message":{"content":[{"type":"text","text":"last"}]}}"#
            ),
        )
        .unwrap();
        let items = read_transcript(&path, 1).unwrap();
        assert_eq!(items[0].text, "last");
        let long = "y".repeat(5000);
        std::fs::write(&path, format!(r#"{{"type":"assistant","message":{{"content":[{{"type":"text","text":"{long}"}}]}}}}"#)).unwrap();
        assert!(read_transcript(&path, 1).unwrap()[0].text.chars().count() <= MAX_ITEM_TEXT + 1);
    }

    #[test]
    fn the_path_is_mangled_like_claude_code_does() {
        let p = transcript_path(Path::new("/home/u"), Path::new("/tmp/my.proj_x"), "abc");
        assert_eq!(
            p,
            Path::new("/home/u/.claude/projects/-tmp-my-proj-x/abc.jsonl")
        );
    }
}
