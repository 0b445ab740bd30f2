//! `check_prompts` and `respond_to_prompt`: finding sessions that wait for their owner, and
//! answering them with exactly the keys that select the answer.

use std::time::Duration;

use rmcp::model::CallToolResult;
use serde_json::json;

use sessiongate_backend::prompt::{self, Activity, Agent, Detection};
use sessiongate_backend::{ProcessStatus, ReadRequest, SessionInfo, SessionName};

use super::reply;
use crate::state::AppState;

/// How long a screen must be unchanged before a trailing `?` or `:` counts as a question.
pub(super) const QUIET_SECS: i64 = 1;
/// When to look again after the last output so that a question that needs a quiet screen is
/// seen without polling: just after [`QUIET_SECS`] (tmux reports activity to the second,
/// rounded down, so its screens count as quiet no later than this either).
pub(crate) const QUIET_RECHECK: Duration = Duration::from_millis(1_050);

/// How long `respond_to_prompt` watches the screen for the prompt to go away.
const SETTLE_WAIT: Duration = Duration::from_secs(3);

/// Reads a session's visible screen and runs prompt detection on it. `None` when the session
/// has exited or its screen cannot be read.
pub(crate) async fn detect_session(state: &AppState, info: &SessionInfo) -> Option<Detection> {
    if info.status != ProcessStatus::Running {
        return None;
    }
    let screen = state
        .backend
        .read(&info.name, ReadRequest::visible())
        .await
        .ok()?;
    let agent = Agent::guess(
        info.profile.as_deref(),
        info.current_command.as_deref(),
        &screen.text,
    );
    // A screen that changed within the last second may still be printing; rules that need a
    // quiet screen (a trailing '?' or ':') wait until it settles.
    let quiet = info
        .last_activity
        .is_none_or(|t| time::OffsetDateTime::now_utc() - t >= time::Duration::seconds(QUIET_SECS));
    let mut detection = prompt::detect_with(&screen.text, agent, quiet);
    prompt::refine_with_foreground(&mut detection, info.current_command.as_deref());
    // Claude Code's own state file is the best signal there is; the screen still supplies
    // the structure of the question it waits on.
    if let Some(state) = state.backend.claude_state(info).await {
        let screen_waits = detection.activity == Activity::WaitingForInput;
        detection.agent = Agent::ClaudeCode;
        detection.activity = match state.status.as_str() {
            "busy" => Activity::Working,
            "waiting" => Activity::WaitingForInput,
            _ if screen_waits => Activity::WaitingForInput,
            _ => Activity::Idle,
        };
        if detection.activity != Activity::WaitingForInput {
            detection.prompt = None;
        }
        detection.rule = Some(format!(
            "claude-code/state-file ({}{})",
            state.status,
            state
                .waiting_for
                .as_deref()
                .map(|w| format!(": {w}"))
                .unwrap_or_default()
        ));
    }
    Some(detection)
}

/// A one-line summary of a detection.
pub(super) fn state_line(d: &Detection) -> String {
    match (&d.activity, &d.prompt) {
        (Activity::WaitingForInput, Some(p)) => format!("waiting for input: {}", p.question),
        (Activity::WaitingForInput, None) => "waiting for input".into(),
        (Activity::Working, _) => "working".into(),
        (Activity::Idle, _) => "idle".into(),
        (Activity::Unknown, _) => "unknown".into(),
    }
}

fn prompt_text(name: &SessionName, d: &Detection) -> String {
    let Some(p) = &d.prompt else {
        return format!("{name}: waiting for input");
    };
    let mut out = format!("{name}: {}", p.question);
    for c in &p.context {
        out.push_str(&format!("\n  | {c}"));
    }
    for (i, o) in p.options.iter().enumerate() {
        let cursor = if p.cursor == Some(i) { "❯" } else { " " };
        match o.number {
            Some(n) => out.push_str(&format!("\n  {cursor} {n}. {}", o.label)),
            None => out.push_str(&format!("\n  {cursor} {}", o.label)),
        }
    }
    out
}

/// Runs `check_prompts` over every session.
pub(super) async fn check_prompts(state: &AppState) -> CallToolResult {
    let sessions = match state.backend.list().await {
        Ok(s) => s,
        Err(e) => return reply::fail(&e),
    };
    let mut waiting = Vec::new();
    let mut texts = Vec::new();
    // Hosts at once (a remote host's reads are round trips over SSH).
    let detections = crate::hosts::per_host(&sessions, |info| detect_session(state, info)).await;
    for (info, detection) in sessions.iter().zip(&detections) {
        if let Some(d) = detection
            && d.activity == Activity::WaitingForInput
        {
            texts.push(prompt_text(&info.name, d));
            let host = info
                .name
                .host()
                .unwrap_or(sessiongate_backend::hosts::LOCAL);
            waiting.push(json!({ "session": info.name, "host": host, "detection": d }));
        }
    }
    let mut text = if waiting.is_empty() {
        format!(
            "No session is waiting for input ({} sessions checked).",
            sessions.len()
        )
    } else {
        texts.join("\n\n")
    };
    let hosts = crate::hosts::describe_hosts(&state.hosts, &mut text);
    reply::ok_json(
        text,
        json!({
            "waiting": waiting,
            "checked": sessions.len(),
            "hosts": hosts,
            "board": super::board::snapshot_of(state, &sessions, &detections, true),
        }),
    )
}

/// Runs `respond_to_prompt`. With `question`, nothing is sent unless the session still asks
/// exactly that (the answer was chosen for that question, e.g. by a button on the board).
pub(super) async fn respond(
    state: &AppState,
    session: &str,
    answer: &str,
    question: Option<&str>,
) -> CallToolResult {
    let info = match async {
        let name = SessionName::new(session)?;
        state.backend.info(&name).await
    }
    .await
    {
        Ok(i) => i,
        Err(e) => return reply::fail(&e),
    };
    let name = info.name.clone();
    let Some(before) = detect_session(state, &info).await else {
        return reply::fail(&sessiongate_backend::Error::Exited(name.to_string()));
    };
    let Some(p) = before
        .prompt
        .as_ref()
        .filter(|_| before.activity == Activity::WaitingForInput)
    else {
        let screen = screen_tail(state, &name).await;
        return reply::fail_msg(format!(
            "session {name} is not waiting for an answer (state: {}). Its screen ends with:\n{screen}",
            state_line(&before)
        ));
    };
    if let Some(expected) = question
        && expected != p.question
    {
        return reply::fail_msg(format!(
            "the prompt changed: {name} now asks {:?}, not {expected:?}; nothing was sent",
            p.question
        ));
    }
    send_answer(state, &name, p, answer).await
}

/// Sends the keys that answer prompt `p` (on screen in session `name`) with `answer`, and
/// watches for a moment for the prompt to go away: the answering half of
/// `respond_to_prompt`, shared with the answer pages of notifications.
pub(crate) async fn send_answer(
    state: &AppState,
    name: &SessionName,
    p: &prompt::Prompt,
    answer: &str,
) -> CallToolResult {
    let name = name.clone();
    let plan = match prompt::plan_answer(p, answer) {
        Ok(plan) => plan,
        Err(e) => return reply::fail(&e),
    };
    // Subscribed before the answer is sent, so that no output event of the answer is missed.
    let mut events = state.backend.events();
    if let Some(text) = &plan.text
        && let Err(e) = state.policy.check_message(text)
    {
        return reply::fail(&e);
    }
    if !plan.before.is_empty()
        && let Err(e) = state.backend.send_keys(&name, &plan.before).await
    {
        return reply::fail(&e);
    }
    if let Some(text) = &plan.text
        && let Err(e) = state.backend.send_text(&name, text, false).await
    {
        return reply::fail(&e);
    }
    if !plan.keys.is_empty()
        && let Err(e) = state.backend.send_keys(&name, &plan.keys).await
    {
        return reply::fail(&e);
    }
    // Watch the screen until the prompt is gone (or changes), for a bounded time: on each
    // output event (or every 100 ms while the backend reports no output events).
    let deadline = tokio::time::Instant::now() + SETTLE_WAIT;
    let mut after = None;
    while tokio::time::Instant::now() < deadline {
        let polled = state.backend.output_events_epoch().is_none();
        let next = if polled {
            (tokio::time::Instant::now() + Duration::from_millis(100)).min(deadline)
        } else {
            deadline
        };
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = super::events::next_event_for(&mut events, &name) => {}
        }
        let Ok(info) = state.backend.info(&name).await else {
            break;
        };
        after = detect_session(state, &info).await;
        match &after {
            Some(d) if d.prompt.as_ref().map(|q| &q.question) == Some(&p.question) => continue,
            _ => break,
        }
    }
    let gone = after
        .as_ref()
        .is_none_or(|d| d.prompt.as_ref().map(|q| &q.question) != Some(&p.question));
    let screen = screen_tail(state, &name).await;
    let keys: Vec<String> = plan
        .before
        .iter()
        .chain(&plan.keys)
        .map(|k| k.to_string())
        .collect();
    let head = if gone {
        format!(
            "Answered {:?} in {name}; the prompt is gone.",
            plan.chosen.as_deref().unwrap_or(answer)
        )
    } else {
        format!(
            "Sent the answer {:?} to {name}, but the same prompt is still on screen.",
            plan.chosen.as_deref().unwrap_or(answer)
        )
    };
    reply::ok_json(
        format!("{head}\nScreen now:\n{screen}"),
        json!({
            "session": name,
            "chosen": plan.chosen,
            "typed": plan.text,
            "keys": keys,
            "prompt_gone": gone,
            "detection": after,
        }),
    )
}

async fn screen_tail(state: &AppState, name: &SessionName) -> String {
    let req = ReadRequest {
        lines: 20,
        ..ReadRequest::default()
    };
    state
        .backend
        .read(name, req)
        .await
        .map(|s| s.text)
        .unwrap_or_default()
}
