//! A prompt the robot answers on its own (`openclaw-skill send`, a schedule): planned like a
//! user's message (a place in the target conversation's queue, a route) and answered by the
//! same pipeline into a new card of the target, delivered with the robot code.

use super::deps::ReplyDeps;
use super::plan::{Question, Queued};
use crate::event::{AppId, BotMessage, ProactivePrompt};

/// A proactive prompt, ready for [`super::answer`].
pub(crate) struct Post {
    /// The message the pipeline answers (from the robot, in the target's chat).
    pub(crate) msg: BotMessage,
    /// The reply, queued in the target's conversation (a post always queues: it waits behind
    /// the conversation's replies instead of being refused as busy).
    pub(crate) queued: Queued,
}

/// Plans `prompt`; `Err` names an unknown route or app and the ones there are.
pub(crate) fn plan_post(deps: &ReplyDeps, prompt: &ProactivePrompt) -> Result<Post, String> {
    let app = match &prompt.app {
        Some(name) => deps
            .apps
            .by_name(name)
            .ok_or_else(|| format!("no app named `{name}` (apps: {})", deps.apps.names()))?,
        None if deps.apps.several() => {
            return Err(format!(
                "`app` is required: this skill serves several apps ({})",
                deps.apps.names()
            ))
        }
        None => deps.apps.get(AppId(0)),
    };
    let msg = prompt.message(app.id);
    let route = match &prompt.route {
        None => deps.routes.by_name(crate::conversation::DEFAULT_ROUTE),
        Some(name) => deps.routes.by_name(name),
    }
    .ok_or_else(|| {
        format!(
            "no route named `{}` (routes: {})",
            prompt.route.as_deref().unwrap_or_default(),
            deps.routes.names().join(", ")
        )
    })?;
    let conversation = deps.sessions.chat_key(&msg);
    let turn = deps
        .conversations
        .try_enter(&conversation, usize::MAX)
        .ok_or_else(|| "the conversation's queue is full".to_owned())?;
    Ok(Post {
        msg,
        queued: Queued {
            conversation,
            route,
            question: Question {
                text: prompt.prompt.clone(),
                attachments: Vec::new(),
            },
            turn,
            stoppable: prompt.stoppable,
        },
    })
}
