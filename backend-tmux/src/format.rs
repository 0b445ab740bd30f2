//! The format string sessiongate asks tmux for, and its parser.
//!
//! One line per pane, fields separated by a tab. The working directory comes last because it
//! is the only field that can contain arbitrary characters; it is split off with `splitn`.

use std::path::PathBuf;

use time::OffsetDateTime;

use sessiongate_backend::{ProcessStatus, SessionInfo, SessionName};

/// The user option that records a session's sessiongate name (tmux rewrites `.` in session
/// names, so the real name is kept here).
pub(crate) const NAME_OPTION: &str = "@sessiongate-name";
/// The user option that records the launch profile.
pub(crate) const PROFILE_OPTION: &str = "@sessiongate-profile";

/// The `-F` format for `list-panes`.
pub(crate) const PANE_FORMAT: &str = concat!(
    "#{session_name}\t#{window_active}#{pane_active}\t#{session_created}\t",
    "#{window_activity}\t#{pane_pid}\t#{pane_current_command}\t#{pane_dead}\t",
    "#{pane_dead_status}\t#{pane_dead_signal}\t#{pane_width}\t#{pane_height}\t",
    "#{cursor_x}\t#{cursor_y}\t#{history_size}\t#{pane_id}\t#{window_id}\t",
    "#{window_linked_sessions_list}\t#{@sessiongate-name}\t",
    "#{@sessiongate-profile}\t#{pane_current_path}"
);

const FIELDS: usize = 20;

/// One parsed line of [`PANE_FORMAT`] output.
#[derive(Debug, Clone)]
pub(crate) struct PaneLine {
    pub(crate) tmux_name: String,
    pub(crate) active: bool,
    pub(crate) info: SessionInfo,
    pub(crate) cursor: Option<(u16, u16)>,
    pub(crate) history_size: usize,
    /// tmux's pane id (`%3`), as `%output` notifications name the pane.
    pub(crate) pane_id: String,
    /// tmux's window id (`@2`).
    pub(crate) window_id: String,
    /// The sessions the pane's window is linked into, comma-separated.
    pub(crate) linked_sessions: String,
}

/// Parses one line, or `None` for a line that does not belong to a sessiongate session
/// (other prefix, or a logical name that does not validate).
pub(crate) fn parse_line(line: &str, prefix: &str) -> Option<PaneLine> {
    let f: Vec<&str> = line.splitn(FIELDS, '\t').collect();
    if f.len() != FIELDS {
        return None;
    }
    let tmux_name = f[0];
    let stripped = tmux_name.strip_prefix(prefix)?;
    let logical = if f[17].is_empty() { stripped } else { f[17] };
    // A session whose recorded name no longer maps to its tmux name was renamed by hand;
    // it is listed under its tmux name.
    let logical = if to_tmux_name(prefix, logical) == tmux_name {
        logical
    } else {
        stripped
    };
    let name = SessionName::new(logical).ok()?;
    let time = |s: &str| {
        s.parse::<i64>()
            .ok()
            .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
    };
    let num = |s: &str| s.parse::<i32>().ok();
    let status = if f[6] == "1" {
        ProcessStatus::Exited {
            code: num(f[7]),
            signal: num(f[8]).filter(|s| *s != 0),
        }
    } else {
        ProcessStatus::Running
    };
    let info = SessionInfo {
        name,
        backend: "tmux",
        profile: (!f[18].is_empty()).then(|| f[18].to_owned()),
        status,
        current_command: (!f[5].is_empty()).then(|| f[5].to_owned()),
        pid: f[4].parse().ok(),
        working_dir: (!f[19].is_empty()).then(|| PathBuf::from(f[19])),
        created_at: time(f[2]),
        last_activity: time(f[3]),
        cols: f[9].parse().unwrap_or(0),
        rows: f[10].parse().unwrap_or(0),
    };
    Some(PaneLine {
        tmux_name: tmux_name.to_owned(),
        active: f[1] == "11",
        cursor: f[11].parse().ok().zip(f[12].parse().ok()),
        history_size: f[13].parse().unwrap_or(0),
        pane_id: f[14].to_owned(),
        window_id: f[15].to_owned(),
        linked_sessions: f[16].to_owned(),
        info,
    })
}

/// The tmux session name for a sessiongate name. tmux turns `.` and `:` in session names
/// into `_`; doing it here keeps the mapping explicit and predictable.
pub(crate) fn to_tmux_name(prefix: &str, name: &str) -> String {
    format!("{prefix}{}", name.replace(['.', ':'], "_"))
}

/// A `list-panes -f` filter that keeps only panes of sessions named `<prefix>...` other than
/// the control session, so that tmux formats no line sessiongate would drop (each managed
/// window is listed twice otherwise: in its session and in the control session). `None` when
/// the prefix holds characters that the format language would read as syntax.
pub(crate) fn session_filter(prefix: &str, control_session: &str) -> Option<String> {
    let plain = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+'))
    };
    if prefix.is_empty() || !plain(prefix) || !plain(control_session) {
        return None;
    }
    Some(format!(
        "#{{&&:#{{==:#{{={}:session_name}},{prefix}}},#{{!=:#{{session_name}},{control_session}}}}}",
        prefix.chars().count()
    ))
}
