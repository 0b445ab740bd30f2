//! Waiting on the backend's session events for one session: shared by `wait_for` and the
//! settle loop of prompt detection.

use tokio::sync::broadcast::error::RecvError;

use sessiongate_backend::{SessionEvent, SessionName};

/// Waits for the next event about `name` (or a lagged/closed channel, which also wakes).
pub(crate) async fn next_event_for(
    events: &mut tokio::sync::broadcast::Receiver<SessionEvent>,
    name: &SessionName,
) -> Option<SessionEvent> {
    loop {
        match events.recv().await {
            Ok(ev) => {
                let about = match &ev {
                    SessionEvent::Created(n)
                    | SessionEvent::Output(n)
                    | SessionEvent::Exited(n)
                    | SessionEvent::Terminated(n) => n,
                };
                if about == name {
                    return Some(ev);
                }
            }
            Err(RecvError::Lagged(_)) => return None,
            Err(RecvError::Closed) => {
                std::future::pending::<()>().await;
            }
        }
    }
}
