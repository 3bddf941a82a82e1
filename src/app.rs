//! The DingTalk apps (robots) one skill serves, each with what is its own at DingTalk: a
//! client with its own token, learned budget and monthly quota; a card context with its own
//! template, stop button and card journal; an attachments client. One app's trouble (bad
//! credentials, 403s, errors) therefore never waits in another app's queues.
//!
//! With one app its state lives in `state_dir` itself (as it always has); with several, each
//! app's lives in `state_dir/apps/<name>/`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::attachments::Attachments;
use crate::card::{CardContext, CardPlan, Journal};
use crate::dingtalk::{CallStats, DingTalkClient};
use crate::event::AppId;
use crate::ingress::card_callbacks;
use crate::manifest::{DingTalkConfig, Manifest};
use crate::network::Network;
use crate::shared::{SharedBudget, SharedCards, SharedInbox, SharedState};

/// One app of the skill. Threads: any (shared by every reply of the app).
pub(crate) struct App {
    /// Its place in the manifest's `apps` (the `dingtalk:` block is 0).
    pub(crate) id: AppId,
    /// Its manifest entry (name, credentials, robot code, card settings).
    pub(crate) config: DingTalkConfig,
    /// Every DingTalk call of the app, for `info`.
    pub(crate) calls: Arc<CallStats>,
    /// Its DingTalk client (token, budget, quota).
    pub(crate) dingtalk: Arc<DingTalkClient>,
    /// card-sync's context for the app's cards (client, journal, card settings).
    pub(crate) cards: Arc<CardContext>,
    /// Fetches the pictures and files of the app's messages.
    pub(crate) attachments: Attachments,
    /// The app's budget windows and call count shared with other hosts (`shared_state:`).
    pub(crate) shared_budget: Option<Arc<SharedBudget>>,
    /// The app's card journal shared with other hosts, with leases (`shared_state:`).
    pub(crate) shared_cards: Option<Arc<SharedCards>>,
    /// The app's messages accepted and not yet shown in a card, shared with leases.
    pub(crate) shared_inbox: Option<Arc<SharedInbox>>,
}

impl App {
    /// The app's name (the manifest's `name`).
    pub(crate) fn name(&self) -> &str {
        &self.config.name
    }
}

/// The skill's apps, in the manifest's order (at least one). Threads: any.
pub(crate) struct Apps {
    list: Vec<Arc<App>>,
}

impl Apps {
    /// Builds every app of `manifest`: its client, its card journal (opened) and context,
    /// sharing budgets and journals through `shared` when the manifest has `shared_state:`.
    pub(crate) fn start(
        manifest: &Manifest,
        network: &Network,
        shared: Option<&Arc<SharedState>>,
    ) -> Result<Apps, String> {
        let several = manifest.several_apps();
        let mut list = Vec::with_capacity(manifest.apps.len());
        for (index, config) in manifest.apps.iter().enumerate() {
            let dir = state_dir_of(&manifest.state_dir(), &config.name, several);
            let mut journal =
                Journal::open(&dir).map_err(|e| format!("state_dir {}: {e}", dir.display()))?;
            let calls = Arc::new(CallStats::default());
            let dingtalk = Arc::new(
                DingTalkClient::new(config, calls.clone(), Some(&dir), network)
                    .map_err(|e| format!("app {}: {e}", config.name))?,
            );
            let (shared_budget, shared_cards, shared_inbox) = match shared {
                Some(state) => {
                    let budget = Arc::new(SharedBudget::new(state.clone(), &config.app_key));
                    dingtalk.share_budget(state.share(), budget.clone());
                    let cards = SharedCards::new(state.clone(), &config.app_key);
                    journal = journal.mirrored(cards.clone());
                    let inbox = SharedInbox::new(state.clone(), &config.app_key);
                    // Once Redis holds a created card, the card stands for its message's
                    // reply: the inbox lets the message go (never before, so a host dying in
                    // between leaves one or the other for another host).
                    let letting_go = Arc::downgrade(&inbox);
                    cards.after_keep(move |card| {
                        if let (true, Some(inbox)) = (card.created, letting_go.upgrade()) {
                            inbox.release(&card.msg_id);
                        }
                    });
                    (Some(budget), Some(cards), Some(inbox))
                }
                None => (None, None, None),
            };
            let attachments = Attachments::new(&manifest.attachments, network, dingtalk.clone())?;
            let streaming = &manifest.streaming;
            let cards = Arc::new(CardContext::new(
                dingtalk.clone(),
                journal,
                CardPlan {
                    template_id: config.card_template_id.clone(),
                    content_key: config.card_content_key.clone(),
                    interval: Duration::from_millis(streaming.card_update_interval_ms),
                    max_bytes: streaming.card_max_bytes,
                    create_deadline: Duration::from_millis(streaming.card_create_timeout_ms),
                    show_reasoning: streaming.show_reasoning,
                    flow_status: config.card_flow_status,
                    stop_button: card_callbacks::stop_button(manifest, config),
                },
            ));
            list.push(Arc::new(App {
                id: AppId(index),
                config: config.clone(),
                calls,
                dingtalk,
                cards,
                attachments,
                shared_budget,
                shared_cards,
                shared_inbox,
            }));
        }
        Ok(Apps { list })
    }

    /// The app `id` (ids come from this list).
    pub(crate) fn get(&self, id: AppId) -> &Arc<App> {
        self.list.get(id.0).unwrap_or(&self.list[0])
    }

    /// Every app, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Arc<App>> {
        self.list.iter()
    }

    /// Whether several apps share the skill (session keys then name the app).
    pub(crate) fn several(&self) -> bool {
        self.list.len() > 1
    }

    /// The app named `name` (or whose app key is `name`).
    pub(crate) fn by_name(&self, name: &str) -> Option<&Arc<App>> {
        self.list
            .iter()
            .find(|a| a.config.name == name)
            .or_else(|| self.list.iter().find(|a| a.config.app_key == name))
    }

    /// The names of the apps, for an error naming the choices.
    pub(crate) fn names(&self) -> String {
        let names: Vec<&str> = self.list.iter().map(|a| a.name()).collect();
        names.join(", ")
    }

    /// The app an event is for: the one whose robot its `robotCode` names, else the one it
    /// arrived through (`origin`: the app whose secret signed an HTTP callback), else the only
    /// app. `Err` names the problem.
    pub(crate) fn of_event(
        &self,
        robot_code: Option<&str>,
        origin: Option<AppId>,
    ) -> Result<AppId, String> {
        if let Some(code) = robot_code.filter(|c| !c.is_empty()) {
            return match self.list.iter().find(|a| a.config.robot_code == code) {
                Some(app) => Ok(app.id),
                None if !self.several() => Ok(AppId(0)),
                None => Err(format!(
                    "robotCode `{code}` is the robot of none of this skill's apps ({})",
                    self.names()
                )),
            };
        }
        match origin {
            Some(id) => Ok(id),
            None if !self.several() => Ok(AppId(0)),
            None => Err(format!(
                "the event names no robotCode, and this skill serves several apps ({}): which one received it is unknown",
                self.names()
            )),
        }
    }
}

/// Where the state of the app `name` lives: `state_dir` itself for a skill of one app,
/// `state_dir/apps/<name>` with several.
pub(crate) fn state_dir_of(state_dir: &Path, name: &str, several: bool) -> PathBuf {
    if several {
        state_dir.join("apps").join(name)
    } else {
        state_dir.to_path_buf()
    }
}
