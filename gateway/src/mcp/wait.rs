//! `wait_for`: block on the server until a session reaches a state, so that clients need not
//! poll (and burn tokens) themselves.
//!
//! The wait wakes on the backend's session events (output, exit, termination), and again a
//! settle period and a quiet period after the last of them (a program may update its state a
//! moment after its last output, and a question counts once the screen is quiet); nothing is
//! polled. Only a backend that cannot observe output at
//! the moment (the tmux backend while its control-mode client is down) is re-checked on a
//! short interval instead. Progress notifications go to the client while it waits, and a
//! cancelled request stops the wait; so does the gateway's shutdown, with an answer that
//! says to call again.

use std::time::Duration;

use rmcp::RoleServer;
use rmcp::model::{CallToolResult, ProgressNotificationParam};
use rmcp::service::RequestContext;
use serde_json::json;

use sessiongate_backend::{ProcessStatus, ReadRequest, SessionEvent, SessionName};

use super::events::next_event_for;
use super::prompts::{QUIET_RECHECK, detect_session, state_line};
use super::reply;
use crate::state::AppState;
use sessiongate_backend::prompt::Activity;

/// The default wait, within the request limits of ChatGPT and Claude (about 60 s).
pub(crate) const DEFAULT_TIMEOUT_S: u64 = 50;
/// The longest wait a client may ask for.
pub(crate) const MAX_TIMEOUT_S: u64 = 600;
/// How often a backend without output events is re-checked.
pub(crate) const FALLBACK_INTERVAL: Duration = Duration::from_millis(250);
/// How long the screen must be unchanged before a reached state is reported, when output
/// is observed as events (the last event is exactly when the screen last changed).
pub(crate) const SETTLE: Duration = Duration::from_millis(250);
/// The same without output events, where a change is only seen by re-reading.
pub(crate) const SETTLE_POLLED: Duration = Duration::from_millis(400);
/// How often progress is reported.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(5);

/// What to wait for.
#[derive(Debug)]
pub(crate) enum Until {
    /// The session's program is idle (at its input prompt, not working).
    Idle,
    /// The session waits for an answer (a permission question, a menu, y/n).
    Waiting,
    /// Idle or waiting: whatever needs the owner next.
    Attention,
    /// The program has exited.
    Exited,
    /// The screen matches a regular expression.
    Matches(regex::Regex),
    /// The visible screen differs from what it was when the wait began (or the program
    /// exited): a view of the screen refreshes on this instead of on a timer.
    Changed,
}

impl Until {
    /// Parses the `until` and `pattern` arguments.
    pub(crate) fn parse(until: &str, pattern: Option<&str>) -> Result<Until, String> {
        match (until, pattern) {
            ("idle", _) => Ok(Until::Idle),
            ("waiting_for_input" | "waiting", _) => Ok(Until::Waiting),
            ("attention" | "idle_or_waiting", _) => Ok(Until::Attention),
            ("exited", _) => Ok(Until::Exited),
            ("change" | "changed", _) => Ok(Until::Changed),
            ("match" | "regex", Some(p)) => {
                if p.len() > 1024 {
                    return Err("pattern is longer than 1024 characters".into());
                }
                // Line anchors: `^` and `$` match at every line of the screen.
                regex::RegexBuilder::new(p)
                    .multi_line(true)
                    .size_limit(1 << 20)
                    .build()
                    .map(Until::Matches)
                    .map_err(|e| format!("invalid pattern: {e}"))
            }
            ("match" | "regex", None) => Err("until=\"match\" needs a pattern".into()),
            (other, _) => Err(format!(
                "unknown until {other:?}; use idle, waiting_for_input, attention, exited, match or change"
            )),
        }
    }
}

/// Runs `wait_for`.
pub(crate) async fn wait_for(
    state: &AppState,
    ctx: &RequestContext<RoleServer>,
    session: &str,
    until: Until,
    timeout: Duration,
) -> CallToolResult {
    let name = match SessionName::new(session) {
        Ok(n) => n,
        Err(e) => return reply::fail(&e),
    };
    let mut events = state.backend.events();
    let start = tokio::time::Instant::now();
    let deadline = start + timeout;
    let mut next_progress = start + PROGRESS_INTERVAL;
    let progress_token = ctx.meta.get_progress_token();
    let mut last_screen: Option<u64> = None;
    let mut first_screen: Option<u64> = None;
    let mut stable_since = start;
    // The settle timers: checks a settle period and a quiet period after the last event
    // (the state can change with time alone: a question needs a quiet screen).
    let mut rechecks: Vec<tokio::time::Instant> = Vec::new();
    loop {
        let watched = state.backend.output_events_epoch().is_some();
        let settle = if watched { SETTLE } else { SETTLE_POLLED };
        let info = match state.backend.info(&name).await {
            Ok(i) => i,
            Err(e) => return reply::fail(&e),
        };
        let exited = info.status != ProcessStatus::Running;
        let detection = detect_session(state, &info).await;
        let mut met = match &until {
            Until::Exited | Until::Changed => exited,
            Until::Idle => detection
                .as_ref()
                .is_some_and(|d| d.activity == Activity::Idle),
            // Waiting counts once the question is on screen and readable: Claude Code's state
            // file can say "waiting" a moment before the menu is drawn.
            Until::Waiting => detection.as_ref().is_some_and(waiting_with_prompt),
            Until::Attention => {
                exited
                    || detection
                        .as_ref()
                        .is_some_and(|d| d.activity == Activity::Idle || waiting_with_prompt(d))
            }
            Until::Matches(re) => {
                let screen = state
                    .backend
                    .read(&name, ReadRequest::visible())
                    .await
                    .map(|s| s.text)
                    .unwrap_or_default();
                re.is_match(&screen)
            }
        };
        // A state counts once the screen has settled: a program that has just drawn its menu
        // may not be reading its input yet, and a screen still printing may change its mind.
        // Settled means the same visible screen for SETTLE (tmux reports activity only to the
        // second, so the screen itself is compared).
        let visible = state
            .backend
            .read(&name, ReadRequest::visible())
            .await
            .map(|s| s.text)
            .unwrap_or_default();
        let digest = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            visible.hash(&mut h);
            h.finish()
        };
        let first = *first_screen.get_or_insert(digest);
        if matches!(until, Until::Changed) && digest != first {
            met = true;
        }
        let now = tokio::time::Instant::now();
        if last_screen != Some(digest) {
            last_screen = Some(digest);
            stable_since = now;
        }
        let settles_at = stable_since + settle;
        if met && !exited && now < settles_at && settles_at < deadline {
            // Wait out the settle period, but look again at once when more output comes
            // (the settle period then restarts from that change, not from this one).
            tokio::select! {
                _ = ctx.ct.cancelled() => {
                    return reply::fail_msg(format!("wait_for on {name} was cancelled"));
                }
                _ = state.shutdown.cancelled() => return shutting_down(&name),
                _ = tokio::time::sleep_until(settles_at) => {}
                _ = next_event_for(&mut events, &name), if watched => {
                    while events.try_recv().is_ok() {}
                }
            }
            continue;
        }
        // An exited program will not reach any other state.
        if met || exited {
            return finish(state, &name, &until, met, detection, start.elapsed()).await;
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return finish(state, &name, &until, false, detection, start.elapsed()).await;
        }
        if now >= next_progress {
            next_progress = now + PROGRESS_INTERVAL;
            if let Some(token) = progress_token.clone() {
                let state_text = detection.as_ref().map(state_line).unwrap_or_default();
                let param = ProgressNotificationParam::new(token, start.elapsed().as_secs_f64())
                    .with_total(timeout.as_secs_f64())
                    .with_message(format!("waiting on {name}: {state_text}"));
                let _ = ctx.peer.notify_progress(param).await;
            }
        }
        let mut wake = deadline.min(next_progress);
        if let Some(at) = rechecks.iter().min() {
            wake = wake.min(*at);
        }
        if !watched {
            wake = wake.min(now + FALLBACK_INTERVAL);
        }
        tokio::select! {
            _ = ctx.ct.cancelled() => {
                return reply::fail_msg(format!("wait_for on {name} was cancelled"));
            }
            _ = state.shutdown.cancelled() => return shutting_down(&name),
            _ = tokio::time::sleep_until(wake) => {
                let now = tokio::time::Instant::now();
                rechecks.retain(|at| *at > now);
            }
            ev = next_event_for(&mut events, &name) => {
                // A burst of output is one re-check: take every event already queued.
                let mut terminated = matches!(ev, Some(SessionEvent::Terminated(_)));
                while let Ok(more) = events.try_recv() {
                    terminated |= more == SessionEvent::Terminated(name.clone());
                }
                if terminated {
                    return reply::fail(&sessiongate_backend::Error::NotFound(name.to_string()));
                }
                let now = tokio::time::Instant::now();
                rechecks = vec![now + settle, now + QUIET_RECHECK];
            }
        }
    }
}

fn waiting_with_prompt(d: &sessiongate_backend::prompt::Detection) -> bool {
    d.activity == Activity::WaitingForInput && d.prompt.is_some()
}

/// The answer to a wait cut short by the gateway's shutdown: at once, so that the client
/// gets a reply instead of a stream cut off at the shutdown deadline.
fn shutting_down(name: &SessionName) -> CallToolResult {
    reply::fail_msg(format!(
        "wait_for on {name} stopped: the server is shutting down; call again"
    ))
}

async fn finish(
    state: &AppState,
    name: &SessionName,
    until: &Until,
    met: bool,
    detection: Option<sessiongate_backend::prompt::Detection>,
    waited: Duration,
) -> CallToolResult {
    let info = state.backend.info(name).await.ok();
    let screen = state
        .backend
        .read(
            name,
            ReadRequest {
                lines: 40,
                ..ReadRequest::default()
            },
        )
        .await
        .map(|s| s.text)
        .unwrap_or_default();
    let state_text = match (&info, &detection) {
        (Some(i), _) if i.status != ProcessStatus::Running => "exited".to_owned(),
        (_, Some(d)) => state_line(d),
        _ => "unknown".to_owned(),
    };
    let head = headline(name, until, met, &state_text, &screen, waited);
    reply::ok_json(
        format!("{head}\n{screen}"),
        json!({
            "session": name,
            "condition_met": met,
            "timed_out": !met,
            "state": state_text,
            "detection": detection,
            "status": info.map(|i| i.status),
            "waited_s": waited.as_secs_f64(),
            "screen": screen,
        }),
    )
}

/// The first line of the result: what was met (for a pattern, what matched), or the timeout.
fn headline(
    name: &SessionName,
    until: &Until,
    met: bool,
    state_text: &str,
    screen: &str,
    waited: Duration,
) -> String {
    let secs = waited.as_secs_f64();
    match (met, until) {
        (true, Until::Matches(re)) => {
            // The match as it stands on the screen returned (it may have scrolled off since).
            let matched = re
                .find(screen)
                .map(|m| {
                    let text: String = m.as_str().chars().take(200).collect();
                    format!(" with {text:?}")
                })
                .unwrap_or_default();
            format!(
                "{name}'s screen matched {:?}{matched} (after {secs:.1} s); it is {state_text}.",
                re.as_str()
            )
        }
        (true, Until::Changed) => {
            format!("{name}'s screen changed (after {secs:.1} s); it is {state_text}.")
        }
        (true, _) => format!("{name} is now {state_text} (after {secs:.1} s)."),
        (false, _) => format!(
            "Timed out after {secs:.1} s; {name} is {state_text}. Call wait_for again to keep waiting."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_match_headline_says_what_matched() {
        let name = SessionName::new("s").expect("name");
        let until = Until::parse("match", Some(r"build (ok|failed)")).expect("pattern");
        let screen = "$ make\nbuild failed\n$ ";
        let head = headline(&name, &until, true, "idle", screen, Duration::from_secs(2));
        assert_eq!(
            head,
            "s's screen matched \"build (ok|failed)\" with \"build failed\" (after 2.0 s); it is idle."
        );
        let idle = Until::parse("idle", None).expect("idle");
        let head = headline(&name, &idle, true, "idle", screen, Duration::from_secs(2));
        assert_eq!(head, "s is now idle (after 2.0 s).");
        let head = headline(&name, &until, false, "working", "", Duration::from_secs(5));
        assert!(
            head.starts_with("Timed out after 5.0 s; s is working."),
            "{head}"
        );
    }
}
