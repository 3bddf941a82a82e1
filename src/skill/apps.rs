//! What the skill starts for each DingTalk app: its ready line, the card-callback
//! registration (HTTP mode), the recovery of cards an earlier process left, and with shared
//! state the watch over card leases and the exchange of rates and call counts.

use std::collections::HashSet;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use super::Skill;
use crate::app::App;
use crate::card::{close_maybe_created, recover_leftovers, CardCallbacks, Journal, JournalEntry};
use crate::dingtalk::{CallStats, Caller, Priority, Retry};
use crate::ingress::card_callbacks;
use crate::manifest::{DingTalkConfig, Manifest};
use crate::reply::ReplyDeps;
use crate::runtime::runtime;
use crate::shared::{InboxEntry, Known, SharedCards};

impl Skill {
    /// Starts what is the app's own: says how it is set up, registers its card callbacks
    /// (HTTP mode) and finalizes, in the background, the cards an earlier process of it left
    /// in flight.
    pub(super) fn start_app(&self, app: &Arc<App>) {
        let leftovers = app.cards.journal.leftovers();
        log::info!(
            "app {}: DingTalk app {} robot {}, budget {} calls/s per API, stop button {}{}",
            app.name(),
            app.config.app_key,
            app.config.robot_code,
            app.config.api_qps,
            stop_button_note(&self.inner.manifest, &app.config),
            if leftovers.is_empty() {
                String::new()
            } else {
                format!(
                    "; finalizing {} card(s) an earlier process left in flight, in the background",
                    leftovers.len()
                )
            }
        );
        self.register_card_callbacks(app);
        if !leftovers.is_empty() {
            let deps = self.inner.replies.clone();
            let app = app.clone();
            let recovery = async move {
                let leftovers = match &app.shared_cards {
                    Some(shared) => not_shared(&deps, shared, &app.cards.journal, leftovers).await,
                    None => leftovers,
                };
                let recovered = || {
                    deps.counters.recovered.fetch_add(1, Relaxed);
                };
                recover_leftovers(
                    app.cards.clone(),
                    leftovers,
                    deps.shutdown.clone(),
                    recovered,
                )
                .await;
            };
            self.inner.recovery.spawn_on(recovery, runtime().handle());
        }
        if app.shared_cards.is_some() {
            self.watch_leases(app);
        }
    }

    /// With shared state, every third of a lease: renews the leases of the app's cards and
    /// messages this host holds, and takes over those of hosts that are gone: their accepted
    /// messages no card shows are answered here, the cards they were creating are closed, and
    /// the cards they streamed are finalized as interrupted with the text they showed.
    fn watch_leases(&self, app: &Arc<App>) {
        let (Some(shared), Some(inbox)) = (app.shared_cards.clone(), app.shared_inbox.clone())
        else {
            return;
        };
        let skill = Arc::downgrade(&self.inner);
        let recovery = self.inner.recovery.clone();
        let app = app.clone();
        runtime().spawn(async move {
            let mut tick = tokio::time::interval(shared.lease() / 3);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(inner) = skill.upgrade() else { return };
                let skill = Skill { inner };
                let deps = skill.inner.replies.clone();
                if deps.shutdown.is_cancelled() {
                    return;
                }
                shared.renew_all();
                inbox.renew_all();
                let messages = inbox.take_orphans().await;
                if !messages.is_empty() {
                    // A message whose card exists (the host died between creating the card
                    // and letting the message go) is the card's: it is finalized below.
                    let carded: HashSet<String> = match shared.all().await {
                        Ok(cards) => cards
                            .into_iter()
                            .filter(|c| c.created)
                            .map(|c| c.msg_id)
                            .collect(),
                        Err(_) => HashSet::new(),
                    };
                    let (carded, unanswered): (Vec<_>, Vec<_>) =
                        messages.into_iter().partition(|m| carded.contains(&m.msg_id));
                    for message in carded {
                        inbox.release(&message.msg_id);
                    }
                    skill.answer_taken_over(&app, unanswered);
                }
                let (orphans, creating): (Vec<_>, Vec<_>) = shared
                    .take_orphans()
                    .await
                    .into_iter()
                    .partition(|c| c.created);
                if !creating.is_empty() {
                    for entry in &creating {
                        app.cards.journal.write(entry);
                    }
                    let work = close_maybe_created(app.cards.clone(), creating);
                    recovery.spawn_on(work, runtime().handle());
                }
                if orphans.is_empty() {
                    continue;
                }
                log::info!(
                    "app {}: took over {} card(s) of a host that is gone; finalizing them as interrupted with the text they showed",
                    app.name(),
                    orphans.len()
                );
                for entry in &orphans {
                    // Now this host's: its lease is renewed until the card is finalized.
                    app.cards.journal.write(entry);
                }
                let cards = app.cards.clone();
                let work = async move {
                    let recovered = || {
                        deps.counters.recovered.fetch_add(1, Relaxed);
                    };
                    recover_leftovers(cards, orphans, deps.shutdown.clone(), recovered).await;
                };
                if recovery.is_closed() {
                    return;
                }
                recovery.spawn_on(work, runtime().handle());
            }
        });
    }

    /// Answers the messages of a host that died before a card showed their answers (taken
    /// over from the shared inbox): each as if it had arrived here.
    fn answer_taken_over(&self, app: &App, messages: Vec<InboxEntry>) {
        if messages.is_empty() {
            return;
        }
        log::info!(
            "app {}: took over {} message(s) a host that is gone had accepted and not answered; answering them",
            app.name(),
            messages.len()
        );
        for message in messages {
            if let Err(e) = self.take_event(&message.event, Some(app.id), true) {
                log::warn!(
                    "app {}: the taken-over message {} cannot be answered: {e}",
                    app.name(),
                    message.msg_id
                );
                if let Some(inbox) = &app.shared_inbox {
                    inbox.release(&message.msg_id);
                }
            }
        }
    }

    /// HTTP mode with a stop button: registers `ingress.http.card_callback_url` as the route
    /// of the app's cards' button presses, in the background, retrying every minute until
    /// DingTalk takes it (meanwhile a press does not reach the plugin; `/stop` still works).
    fn register_card_callbacks(&self, app: &Arc<App>) {
        let manifest = &self.inner.manifest;
        let (CardCallbacks::Http { route_key }, Some(url)) = (
            &app.cards.plan.stop_button.callbacks,
            manifest.ingress.http.card_callback_url.clone(),
        ) else {
            return;
        };
        let route_key = route_key.clone();
        let secret = card_callbacks::api_secret(&app.config.app_secret);
        let shutdown = self.inner.replies.shutdown.clone();
        let app = app.clone();
        runtime().spawn(async move {
            let stats = CallStats::default();
            let caller = Caller {
                stats: &stats,
                priority: Priority::Create,
                conversation: "-",
            };
            let name = app.name();
            loop {
                let retry = Retry::for_at_most("card callback registration", Duration::from_secs(30));
                let result = retry
                    .run(|| app.dingtalk.register_card_callbacks(&caller, &route_key, &url, &secret))
                    .await;
                match result {
                    Ok(()) => {
                        log::info!("app {name}: card callbacks: DingTalk posts stop-button presses to {url} (callbackRouteKey {route_key})");
                        return;
                    }
                    Err(e) => log::error!("app {name}: card callbacks: registering {url} failed: {e}; the stop button does nothing until it succeeds (retrying in 60 s; /stop still works)"),
                }
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(60)) => {}
                    () = shutdown.cancelled() => return,
                }
            }
        });
    }
}

/// With shared state: this host's rates and calls go to the app's shared budget, and the
/// lower rates other hosts learned and the month's total come back.
pub(super) async fn share_counts(app: &App) {
    let Some(shared) = &app.shared_budget else {
        return;
    };
    if let Ok(rates) = shared.exchange_rates(&app.dingtalk.learned_rates()).await {
        app.dingtalk.adopt_lower_rates(&rates);
    }
    let quota = app.dingtalk.quota();
    let (month, calls) = quota.take_unshared();
    match shared.add_calls(&month, calls).await {
        Ok(total) => quota.shared_total(&month, total),
        // Counted again at the next tick.
        Err(_) => quota.give_back_unshared(&month, calls),
    }
}

/// The cards of `leftovers` (found in this host's journal at start) the shared journal does
/// not know: those are this host's to finalize. Cards in flight there go to whichever host
/// takes them over once their leases lapse; cards another host finalized are dropped from
/// `journal`. Waits up to 3 s for Redis first.
async fn not_shared(
    deps: &ReplyDeps,
    shared: &SharedCards,
    journal: &Journal,
    leftovers: Vec<JournalEntry>,
) -> Vec<JournalEntry> {
    let Some(state) = &deps.shared else {
        return leftovers;
    };
    for _ in 0..30 {
        if state.is_up() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut mine = Vec::new();
    for entry in leftovers {
        match shared.known(&entry.card_id).await {
            Ok(Known::InFlight) => log::info!(
                "card {} (interrupted earlier) is in the shared journal: the host that takes it over finalizes it",
                entry.card_id
            ),
            Ok(Known::Finalized) => {
                log::info!(
                    "card {} (interrupted earlier) was finalized by another host",
                    entry.card_id
                );
                journal.remove(&entry.card_id);
            }
            Ok(Known::Unknown) | Err(_) => mine.push(entry),
        }
    }
    mine
}

/// What `info` says of one app: its DingTalk calls, budget, card size limit and staleness
/// (the top-level fields of the same names repeat the first app's).
pub(super) fn app_info(app: &App) -> serde_json::Value {
    serde_json::json!({
        "name": app.name(),
        "app_key": app.config.app_key,
        "dingtalk_calls": app.calls.to_json(),
        "dingtalk_budget": app.dingtalk.budget_snapshot(),
        "card_max_bytes": app.cards.max_bytes(),
        "card_staleness": app.cards.staleness.to_json(),
    })
}

/// How the ready line names the stop button of `app`'s cards.
fn stop_button_note(manifest: &Manifest, app: &DingTalkConfig) -> String {
    use crate::manifest::{IngressMode, StopButtonStyle};
    match manifest.stop_button_style(app) {
        StopButtonStyle::MsgButtons => "msg_buttons".into(),
        StopButtonStyle::StopAction => "stop_action".into(),
        StopButtonStyle::None
            if manifest.ingress.mode == IngressMode::Http
                && manifest.ingress.http.card_callback_url.is_none() =>
        {
            "none (set ingress.http.card_callback_url for one; cards say to send /stop)".into()
        }
        StopButtonStyle::None => "none (cards say to send /stop)".into(),
    }
}
