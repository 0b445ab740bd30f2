//! Sending a message and submitting it, with the pause the session's agent needs between the
//! text and the Enter (`Agent::submit_pause`).

use std::time::Duration;

use sessiongate_backend::prompt::Agent;
use sessiongate_backend::{Key, ReadRequest, SessionName};

use crate::state::AppState;

/// Types `text` into session `name` and, when `submit`, presses Enter: in one backend call, or,
/// for an agent that needs a longer pause before the Enter (Gemini CLI), the text, that pause,
/// then Enter. The agent is guessed from the profile, the foreground command and the screen,
/// as prompt detection does.
pub(crate) async fn send_message(
    state: &AppState,
    name: &SessionName,
    text: &str,
    submit: bool,
) -> sessiongate_backend::Result<()> {
    let paused = if submit && !text.is_empty() {
        paused_agent(state, name).await
    } else {
        None
    };
    let Some((pause, before)) = paused else {
        return state.backend.send_text(name, text, submit).await;
    };
    // The pause counts from when the program has handled the paste: a program still busy
    // (Gemini CLI just after it started) would otherwise read the paste and the Enter
    // together. The text's last line showing on its screen says it has drawn it (a screen
    // that merely changed may be a spinner or a rotating tip; a busy machine made that
    // difference).
    let probe: String = text
        .lines()
        .last()
        .unwrap_or("")
        .trim()
        .chars()
        .take(24)
        .collect();
    state.backend.send_text(name, text, false).await?;
    for _ in 0..DRAW_POLLS {
        let now = screen(state, name).await;
        let drawn = if probe.is_empty() {
            now != before
        } else {
            now.contains(&probe) && !before.contains(&probe)
        };
        if drawn {
            break;
        }
        tokio::time::sleep(DRAW_POLL).await;
    }
    tokio::time::sleep(pause).await;
    state.backend.send_keys(name, &[Key::Enter]).await
}

/// How often, and how many times, the screen is read for the pasted text to show.
const DRAW_POLL: Duration = Duration::from_millis(50);
const DRAW_POLLS: usize = 100;

/// The visible screen of session `name`, empty when it cannot be read.
async fn screen(state: &AppState, name: &SessionName) -> String {
    state
        .backend
        .read(name, ReadRequest::visible())
        .await
        .map(|s| s.text)
        .unwrap_or_default()
}

/// The pause the agent in session `name` needs before the Enter, with its screen as it was
/// (read only then: the screen can tell Claude Code from the others, never make an agent need
/// a pause). `None` for every agent that needs none, or when the session cannot be read (the
/// send that follows reports why).
async fn paused_agent(state: &AppState, name: &SessionName) -> Option<(Duration, String)> {
    let info = state.backend.info(name).await.ok()?;
    let (profile, command) = (info.profile.as_deref(), info.current_command.as_deref());
    Agent::guess(profile, command, "").submit_pause()?;
    let screen = screen(state, name).await;
    let pause = Agent::guess(profile, command, &screen).submit_pause()?;
    Some((pause, screen))
}
