//! `set_notifications`: muting and unmuting one session's notifications to the owner (see
//! [`crate::notify`]).

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{ErrorData as McpError, tool, tool_router};
use serde_json::json;

use super::SessionTools;
use super::args::NotificationsArgs;
use super::reply;

impl SessionTools {
    /// A session's notifications: `on`, `muted`, or `off` when no channel is configured.
    pub(super) fn notifications_of(&self, session: &str) -> &'static str {
        if self.state.notify.is_muted(session) {
            "muted"
        } else if self.state.notify.enabled() {
            "on"
        } else {
            "off"
        }
    }
}

#[tool_router(router = notify_router, vis = "pub(super)")]
impl SessionTools {
    #[tool(
        description = "Mute (enabled = false) or unmute one session's notifications to the \
                       owner (a prompt waiting for an answer, the program exiting). \
                       list_sessions shows each session's setting.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub(super) async fn set_notifications(
        &self,
        Parameters(a): Parameters<NotificationsArgs>,
    ) -> Result<CallToolResult, McpError> {
        let info = match self.lookup(&a.session).await {
            Ok(i) => i,
            Err(e) => return Ok(reply::fail(&e)),
        };
        let name = info.name.as_str();
        if let Err(e) = self.state.notify.set_enabled(name, a.enabled).await {
            tracing::error!(error = %e, "could not store a session's notification setting");
            return Ok(reply::fail_msg(format!(
                "the notification setting of {name} could not be stored"
            )));
        }
        let now = self.notifications_of(name);
        let text = match (a.enabled, now) {
            (false, _) => format!("Notifications about {name} are muted."),
            (true, "off") => format!(
                "{name} is not muted, but no notification channel is configured \
                 ([notify.channels.*] in the gateway's config file)."
            ),
            (true, _) => format!("Notifications about {name} are on."),
        };
        Ok(reply::ok_json(
            text,
            json!({ "session": name, "notifications": now }),
        ))
    }
}
