//! The page's state: one JSON document built from the emulator's record (what DingTalk
//! shows and what it was asked), the simulator's [`Book`], and the plugin's `info`.
//!
//! Everything is derived on demand from bounded sources, and every list sent is capped, so a
//! page open for hours receives documents of a steady size.

use std::collections::{BTreeMap, HashSet};

use openclaw_dingtalk_emulator::dingtalk::{
    ApiKind, Call, Card, CardPress, CardState, DingTalkEmulator, PressStatus, SentMessage,
};
use openclaw_dingtalk_emulator::render::card_markdown_html;
use serde::Serialize;
use serde_json::Value;

use super::book::{Book, Conversation, Kind, USERS};
use super::faults::CATALOG;
use crate::demo::peers::CONTENT_KEY;

/// Items (messages and cards) sent for the selected conversation: the newest ones.
pub const MAX_ITEMS: usize = 100;
/// Presses listed under one card: the newest ones.
pub const MAX_PRESSES_PER_CARD: usize = 5;
/// Seconds of history in the calls-per-second chart.
pub const RATE_WINDOW_SECS: u64 = 60;

/// What the page asked for.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct Query {
    /// The selected conversation (default: the first).
    pub conversation: Option<String>,
    /// The card whose calls the timeline shows (default: the conversation's newest card).
    pub card: Option<String>,
}

/// Facts about the run that do not change.
#[derive(Debug, Clone, Serialize)]
pub struct AppInfo {
    /// The robot's display name.
    pub robot: &'static str,
    /// The emulated app's AppKey (not a secret).
    pub app_key: String,
    /// Which gateway answers (a real gateway's URL without credentials).
    pub gateway: String,
    /// `gateway.model`.
    pub model: String,
    /// `streaming.card_update_interval_ms`.
    pub interval_ms: u64,
    /// Plugin name and version.
    pub plugin: String,
    /// The built-in fake gateway answers (faults on it are available).
    #[serde(skip)]
    pub fake_gateway: bool,
}

/// The state document (see the page's `app.js` for how each part is drawn).
#[derive(Debug, Serialize)]
pub struct State {
    version: u64,
    app: AppView,
    users: Vec<UserView>,
    conversations: Vec<ConversationView>,
    selected: Option<String>,
    items: Vec<Item>,
    timeline: Option<Timeline>,
    rate: Rate,
    month: Month,
    replies: Value,
    faults: Vec<FaultView>,
    fault_log: Vec<FaultLogView>,
}

#[derive(Debug, Serialize)]
struct AppView {
    #[serde(flatten)]
    info: AppInfo,
    stream: &'static str,
}

#[derive(Debug, Serialize)]
struct UserView {
    staff_id: &'static str,
    nick: &'static str,
}

#[derive(Debug, Serialize)]
struct ConversationView {
    id: String,
    kind: &'static str,
    /// The user of a 1:1 chat (`staff_id`).
    user: Option<&'static str>,
    title: String,
    preview: String,
    at_ms: u64,
}

/// One entry of the chat.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Item {
    User {
        id: String,
        sender: String,
        text: String,
        /// It carried the sample picture (`/assets/sample.png`).
        picture: bool,
        at_ms: u64,
        mention: bool,
        delivered: bool,
    },
    Card {
        id: String,
        at_ms: u64,
        state: &'static str,
        html: String,
        updates: usize,
        /// The buttons the card shows now (from its data, as DingTalk draws them).
        buttons: Vec<ButtonView>,
        /// Who asked the question the card answers (`staff_id`), when the host said.
        asker: Option<String>,
        /// The newest presses of its buttons, oldest first (the emulator's record).
        presses: Vec<PressView>,
    },
    Robot {
        id: String,
        at_ms: u64,
        title: Option<String>,
        html: String,
        via: String,
    },
}

impl Item {
    fn at_ms(&self) -> u64 {
        match self {
            Item::User { at_ms, .. } | Item::Card { at_ms, .. } | Item::Robot { at_ms, .. } => {
                *at_ms
            }
        }
    }
}

#[derive(Debug, Serialize)]
struct ButtonView {
    id: String,
    text: String,
}

/// One press of a card's button and what came of it.
#[derive(Debug, Serialize)]
struct PressView {
    seq: u64,
    at_ms: u64,
    /// Who pressed (`staff_id`) and their nick (the id when the simulator does not know it).
    user: String,
    nick: String,
    action: String,
    /// `pending` (sent, not answered), `answered` (the app ACKed it), `failed`.
    status: &'static str,
    /// Why nothing came of it, when the emulator says.
    detail: Option<String>,
    /// The robot's first 1:1 message to the presser after the press (e.g. why they may not
    /// stop someone else's answer), as text.
    notice: Option<String>,
}

#[derive(Debug, Serialize)]
struct Timeline {
    card: String,
    created_ms: u64,
    calls: Vec<TimelineCall>,
}

#[derive(Debug, Serialize)]
struct TimelineCall {
    seq: u64,
    at_ms: u64,
    took_ms: u64,
    api: String,
    status: u16,
    error_code: Option<String>,
    finalize: bool,
    error: bool,
    applied_timeout: bool,
}

#[derive(Debug, Serialize)]
struct Rate {
    now_ms: u64,
    seconds: Vec<Second>,
    dingtalk_limit: Option<u32>,
    budget: Value,
    waiting: u64,
    limited_total: usize,
}

#[derive(Debug, Serialize, Default, Clone, Copy)]
struct Second {
    t: u64,
    ok: u32,
    limited: u32,
    failed: u32,
}

#[derive(Debug, Serialize)]
struct Month {
    dingtalk: u64,
    plugin: Option<u64>,
}

#[derive(Debug, Serialize)]
struct FaultView {
    id: &'static str,
    label: &'static str,
    hint: &'static str,
    available: bool,
}

#[derive(Debug, Serialize)]
struct FaultLogView {
    at_ms: u64,
    id: &'static str,
    detail: String,
}

/// Builds the state for `query`. `info` is the plugin's `info` JSON (`Value::Null` when it
/// could not be read).
pub fn build(
    version: u64,
    app: &AppInfo,
    book: &Book,
    emulator: &DingTalkEmulator,
    info: &Value,
    query: &Query,
) -> State {
    let cards = emulator.cards();
    let messages = emulator.sent_messages();
    let calls = emulator.calls();
    let presses = emulator.card_presses();
    let now_ms = emulator.started_at().elapsed().as_millis() as u64;

    let selected = query
        .conversation
        .as_deref()
        .and_then(|id| book.conversation(id))
        .or_else(|| book.conversations.first());
    let conversations = book
        .conversations
        .iter()
        .map(|c| conversation_view(c, &cards, &messages))
        .collect();
    let records = Records {
        cards: &cards,
        messages: &messages,
        presses: &presses,
    };
    let items = selected
        .map(|c| items(c, book, &records))
        .unwrap_or_default();
    let timeline_card = query
        .card
        .as_deref()
        .and_then(|id| cards.iter().find(|c| c.out_track_id == id))
        .or_else(|| {
            let c = selected?;
            cards.iter().rev().find(|card| in_space(card, c))
        });
    let applied: HashSet<u64> = emulator.applied_timeouts().into_iter().collect();
    let timeline = timeline_card.map(|card| timeline(card, &calls, &applied));

    let stream = if emulator.stream_connections().iter().any(|c| c.is_open()) {
        "open"
    } else {
        "connecting"
    };
    let budget = info.get("dingtalk_budget").cloned().unwrap_or(Value::Null);
    let fake = app.fake_gateway;
    State {
        version,
        app: AppView {
            info: app.clone(),
            stream,
        },
        users: USERS
            .iter()
            .map(|u| UserView {
                staff_id: u.staff_id,
                nick: u.nick,
            })
            .collect(),
        conversations,
        selected: selected.map(|c| c.id.clone()),
        items,
        timeline,
        rate: Rate {
            now_ms,
            seconds: seconds(&calls, now_ms),
            dingtalk_limit: emulator.config().qps_limit,
            waiting: budget.get("waiting").and_then(Value::as_u64).unwrap_or(0),
            limited_total: calls.iter().filter(|c| c.status == 403).count(),
            budget: serde_json::json!({
                "app": budget.pointer("/app/calls_per_second").cloned().unwrap_or(Value::Null),
                "apis": budget.get("apis").cloned().unwrap_or(Value::Null),
            }),
        },
        month: Month {
            dingtalk: emulator.monthly_calls(),
            plugin: budget.pointer("/month/calls").and_then(Value::as_u64),
        },
        replies: info.get("replies").cloned().unwrap_or(Value::Null),
        faults: CATALOG
            .iter()
            .map(|k| FaultView {
                id: k.id,
                label: k.label,
                hint: k.hint,
                available: fake || !k.fake_gateway_only,
            })
            .collect(),
        fault_log: book
            .faults
            .iter()
            .map(|f| FaultLogView {
                at_ms: f.at_ms,
                id: f.id,
                detail: f.detail.clone(),
            })
            .collect(),
    }
}

/// The card was delivered to conversation `c`.
pub fn in_space(card: &Card, c: &Conversation) -> bool {
    let space = c.card_space();
    card.open_space_id
        .strip_prefix("dtv1.card//")
        .is_some_and(|spaces| spaces.split(';').any(|s| s == space))
}

fn conversation_view(
    c: &Conversation,
    cards: &[Card],
    messages: &[SentMessage],
) -> ConversationView {
    let typed = c.messages.back().map(|m| (m.at_ms, m.text.clone()));
    let card = cards
        .iter()
        .rev()
        .find(|card| in_space(card, c))
        .map(|card| (card.created_at_ms, preview(&card.text(CONTENT_KEY))));
    let robot = messages
        .iter()
        .rev()
        .find(|m| c.receives(&m.target))
        .map(|m| (m.at_ms, preview(&m.text)));
    let (at_ms, preview) = [typed, card, robot]
        .into_iter()
        .flatten()
        .max_by_key(|(at, _)| *at)
        .unwrap_or_default();
    ConversationView {
        id: c.id.clone(),
        kind: match c.kind {
            Kind::Group => "group",
            Kind::Direct(_) => "direct",
        },
        user: match c.kind {
            Kind::Group => None,
            Kind::Direct(user) => Some(user.staff_id),
        },
        title: c.title.clone(),
        preview,
        at_ms,
    }
}

/// The first line of a text, at most 40 characters, for the conversation list.
fn preview(text: &str) -> String {
    let line = text
        .lines()
        .map(|l| l.trim_start_matches(['>', '#', ' ', '*', '-']).trim())
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    let mut out: String = line.chars().take(40).collect();
    if line.chars().count() > 40 {
        out.push('…');
    }
    out.replace("<br>", " ")
}

/// The emulator's records a conversation's items are read from.
struct Records<'a> {
    cards: &'a [Card],
    messages: &'a [SentMessage],
    presses: &'a [CardPress],
}

/// The conversation's messages, cards and robot messages, oldest first, the newest
/// [`MAX_ITEMS`].
fn items(c: &Conversation, book: &Book, records: &Records<'_>) -> Vec<Item> {
    let mut items: Vec<Item> = c
        .messages
        .iter()
        .map(|m| Item::User {
            id: m.id.clone(),
            sender: m.sender.clone(),
            text: m.text.clone(),
            picture: m.picture,
            at_ms: m.at_ms,
            mention: m.mention,
            delivered: m.delivered,
        })
        .collect();
    items.extend(
        records
            .cards
            .iter()
            .filter(|card| in_space(card, c) && card.delivered)
            .map(|card| Item::Card {
                id: card.out_track_id.clone(),
                at_ms: card.created_at_ms,
                state: state_name(card.state),
                html: card_markdown_html(&card.text(CONTENT_KEY)),
                updates: card.updates.len(),
                buttons: card
                    .buttons()
                    .into_iter()
                    .map(|b| ButtonView {
                        id: b.id,
                        text: b.text,
                    })
                    .collect(),
                asker: book.asked(&card.out_track_id).map(|m| m.staff_id.clone()),
                presses: presses_of(card, records),
            }),
    );
    items.extend(
        records
            .messages
            .iter()
            .enumerate()
            .filter(|(_, m)| c.receives(&m.target))
            .map(|(i, m)| Item::Robot {
                id: format!("m{}-{}", m.at_ms, i),
                at_ms: m.at_ms,
                title: m.title.clone(),
                html: card_markdown_html(&m.text),
                via: format!("{:?}", m.via),
            }),
    );
    // Stable: a card created in the same millisecond as its message stays after it.
    items.sort_by_key(Item::at_ms);
    let skip = items.len().saturating_sub(MAX_ITEMS);
    items.drain(..skip);
    items
}

/// The newest [`MAX_PRESSES_PER_CARD`] presses of `card`'s buttons, each with the robot's
/// 1:1 message to the presser that followed it ([`notice_for`]).
fn presses_of(card: &Card, records: &Records<'_>) -> Vec<PressView> {
    let mine: Vec<&CardPress> = records
        .presses
        .iter()
        .filter(|p| p.out_track_id == card.out_track_id)
        .collect();
    let skip = mine.len().saturating_sub(MAX_PRESSES_PER_CARD);
    mine[skip..]
        .iter()
        .map(|p| PressView {
            seq: p.seq,
            at_ms: p.at_ms,
            user: p.user_id.clone(),
            nick: USERS
                .iter()
                .find(|u| u.staff_id == p.user_id)
                .map_or_else(|| p.user_id.clone(), |u| u.nick.to_owned()),
            action: p.action_ids.join(","),
            status: match p.status {
                PressStatus::Pending => "pending",
                PressStatus::Answered => "answered",
                PressStatus::Failed => "failed",
            },
            detail: p.detail.clone(),
            notice: notice_for(p, records),
        })
        .collect()
}

/// The robot's first 1:1 message to `press`'s presser sent after it and before the same
/// person's next press (of any card).
fn notice_for(press: &CardPress, records: &Records<'_>) -> Option<String> {
    let until = records
        .presses
        .iter()
        .find(|q| q.seq > press.seq && q.user_id == press.user_id)
        .map(|q| q.at_ms);
    records
        .messages
        .iter()
        .find(|m| {
            m.via == ApiKind::OtoSend
                && m.at_ms >= press.at_ms
                && until.is_none_or(|until| m.at_ms < until)
                && m.target.split(',').any(|t| t.trim() == press.user_id)
        })
        .map(|m| m.text.clone())
}

/// The page's name for a card state.
fn state_name(state: CardState) -> &'static str {
    match state {
        CardState::Processing => "processing",
        CardState::Inputting => "typing",
        CardState::Finished => "finished",
        CardState::Failed => "failed",
    }
}

/// Every DingTalk call about `card`, in arrival order.
fn timeline(card: &Card, calls: &[Call], applied: &HashSet<u64>) -> Timeline {
    Timeline {
        card: card.out_track_id.clone(),
        created_ms: card.created_at_ms,
        calls: calls
            .iter()
            .filter(|c| c.out_track_id.as_deref() == Some(card.out_track_id.as_str()))
            .map(|c| {
                let (finalize, error) = ending(&c.request);
                TimelineCall {
                    seq: c.seq,
                    at_ms: c.at_ms,
                    took_ms: c.took_ms,
                    api: api_name(c.kind),
                    status: c.status,
                    error_code: c.error_code.clone(),
                    finalize,
                    error,
                    applied_timeout: applied.contains(&c.seq),
                }
            })
            .collect(),
    }
}

/// Whether a card call asked to finish or fail the card (`isFinalize` / `isError` on a
/// streaming update, `flowStatus` "3" / "5" in a card data update).
fn ending(request: &Value) -> (bool, bool) {
    let flag = |k: &str| request.get(k).and_then(Value::as_bool).unwrap_or(false);
    let flow = request
        .pointer("/cardData/cardParamMap/flowStatus")
        .and_then(Value::as_str);
    (
        flag("isFinalize") || flow == Some("3"),
        flag("isError") || flow == Some("5"),
    )
}

fn api_name(kind: ApiKind) -> String {
    format!("{kind:?}")
}

/// DingTalk calls per second over the last [`RATE_WINDOW_SECS`], oldest first: answered
/// (2xx), refused by flow control (403) and failed otherwise.
fn seconds(calls: &[Call], now_ms: u64) -> Vec<Second> {
    let now = now_ms / 1000;
    let first = now.saturating_sub(RATE_WINDOW_SECS - 1);
    let mut by_second: BTreeMap<u64, Second> = (first..=now)
        .map(|t| {
            (
                t,
                Second {
                    t,
                    ..Second::default()
                },
            )
        })
        .collect();
    for call in calls.iter().rev() {
        let t = call.at_ms / 1000;
        if t < first {
            break;
        }
        if let Some(s) = by_second.get_mut(&t) {
            match call.status {
                200..=299 => s.ok += 1,
                403 => s.limited += 1,
                _ => s.failed += 1,
            }
        }
    }
    by_second.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_takes_the_first_line_of_text() {
        assert_eq!(
            preview("> 思考：天空\n\n天空是蓝色的<br>因为散射"),
            "思考：天空"
        );
        let long = "很".repeat(50);
        assert_eq!(preview(&long).chars().count(), 41);
    }

    fn press(seq: u64, at_ms: u64, user: &str) -> CardPress {
        CardPress {
            seq,
            at_ms,
            out_track_id: "card_a".into(),
            user_id: user.into(),
            action_ids: vec!["btn_stop".into()],
            params: serde_json::json!({}),
            mode: openclaw_dingtalk_emulator::dingtalk::CallbackMode::Stream,
            message_id: None,
            callback_url: None,
            status: PressStatus::Answered,
            http_status: None,
            response: None,
            applied: false,
            detail: None,
            answered_at_ms: Some(at_ms + 5),
        }
    }

    fn oto(at_ms: u64, target: &str, text: &str) -> SentMessage {
        SentMessage {
            at_ms,
            via: ApiKind::OtoSend,
            target: target.into(),
            msgtype: "sampleMarkdown".into(),
            title: None,
            text: text.into(),
        }
    }

    #[test]
    fn presses_are_listed_per_card_with_the_robots_note_to_the_presser() {
        let card = Card {
            out_track_id: "card_a".into(),
            template_id: "t".into(),
            open_space_id: "dtv1.card//IM_GROUP.cidA==".into(),
            created_at_ms: 0,
            param_map: BTreeMap::new(),
            state: CardState::Inputting,
            updates: Vec::new(),
            delivered: true,
        };
        let li_na = USERS[2].staff_id;
        let mut presses: Vec<CardPress> = (1..=7).map(|n| press(n, n * 100, li_na)).collect();
        presses.push(CardPress {
            out_track_id: "card_other".into(),
            ..press(8, 800, li_na)
        });
        presses.push(press(9, 900, "staff-unknown"));
        let messages = [
            oto(50, li_na, "在按下之前发的消息"),
            oto(410, li_na, "第四次按下之后的消息"),
            oto(
                710,
                &format!("x,{li_na}"),
                "只有提问的同事可以停止这个回答。",
            ),
        ];
        let records = Records {
            cards: std::slice::from_ref(&card),
            messages: &messages,
            presses: &presses,
        };
        let views = presses_of(&card, &records);
        let seqs: Vec<u64> = views.iter().map(|p| p.seq).collect();
        assert_eq!(seqs, [4, 5, 6, 7, 9], "the newest of this card's presses");
        assert_eq!(views[0].nick, "李娜");
        assert_eq!(
            views[4].nick, "staff-unknown",
            "an unknown presser shows as the id"
        );
        let notices: Vec<Option<&str>> = views.iter().map(|p| p.notice.as_deref()).collect();
        assert_eq!(
            notices,
            [
                Some("第四次按下之后的消息"),
                None,
                None,
                Some("只有提问的同事可以停止这个回答。"),
                None,
            ],
            "each message follows one press: the last one of that person before it"
        );
        assert_eq!(
            (views[0].status, views[0].action.as_str()),
            ("answered", "btn_stop")
        );
    }

    #[test]
    fn ending_reads_both_card_calls() {
        assert_eq!(
            ending(&serde_json::json!({"isFinalize": true, "isError": false})),
            (true, false)
        );
        assert_eq!(
            ending(&serde_json::json!({"cardData": {"cardParamMap": {"flowStatus": "5"}}})),
            (false, true)
        );
        assert_eq!(
            ending(&serde_json::json!({"content": "你好"})),
            (false, false)
        );
    }
}
