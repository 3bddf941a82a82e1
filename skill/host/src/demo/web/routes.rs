//! The simulator's HTTP routes: the embedded page, its state (one document, or a stream of
//! them over SSE), and what a visitor does: type a message (or send the sample picture), press
//! a card's button, add a conversation, inject a fault.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{Query as QueryParams, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::Stream;
use openclaw_dingtalk_emulator::dingtalk::DingTalkEmulator;
use openclaw_dingtalk_emulator::event::{Content, MessageSpec, RichPart};
use openclaw_dingtalk_emulator::gateway::{chart_png, FakeGateway};
use openclaw_skill_abi::Skill;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::book::{self, AddError, Book, FaultEntry, Typed};
use super::faults;
use super::view::{self, AppInfo, Query};

/// After a change, wait this long for more before sending a state (coalesces a burst of
/// card updates into one document).
const COALESCE: Duration = Duration::from_millis(150);
/// A state is sent at least this often (the calls-per-second chart moves with time).
const HEARTBEAT: Duration = Duration::from_secs(1);
/// Largest request body the API accepts.
const MAX_BODY_BYTES: usize = 16 * 1024;

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// Everything the handlers share. Cheap to clone through its `Arc`.
pub struct Simulator {
    /// The DingTalk emulator the robot talks to.
    pub emulator: DingTalkEmulator,
    /// The fake gateway, unless a real one answers.
    pub fake_gateway: Option<FakeGateway>,
    /// The loaded skill (for its `info`).
    pub skill: Arc<Skill>,
    /// Facts shown in the page's info block.
    pub app: AppInfo,
    /// Conversations, typed messages, fault log.
    book: Mutex<Book>,
    /// Bumped on every change of the book, so streams send a new state.
    changes: watch::Sender<u64>,
    /// Cancelled at shutdown: every event stream ends.
    pub stop: CancellationToken,
}

impl Simulator {
    /// A simulator over running peers; `book` is the starting page.
    pub fn new(
        emulator: DingTalkEmulator,
        fake_gateway: Option<FakeGateway>,
        skill: Arc<Skill>,
        app: AppInfo,
        book: Book,
    ) -> Arc<Simulator> {
        Arc::new(Simulator {
            emulator,
            fake_gateway,
            skill,
            app,
            book: Mutex::new(book),
            changes: watch::channel(0).0,
            stop: CancellationToken::new(),
        })
    }

    fn book(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn changed(&self) {
        self.changes.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Notes that card `card` answers the message `msg_id` (from the host's reply notes).
    pub fn link_card(&self, card: &str, msg_id: &str) {
        self.book().link_card(card, msg_id);
        self.changed();
    }

    fn now_ms(&self) -> u64 {
        self.emulator.started_at().elapsed().as_millis() as u64
    }

    /// The state document for `query`.
    fn state(&self, query: &Query) -> view::State {
        let info = self
            .skill
            .info()
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or(Value::Null);
        let version = *self.changes.borrow();
        view::build(
            version,
            &self.app,
            &self.book(),
            &self.emulator,
            &info,
            query,
        )
    }
}

/// The routes, with a body limit on the API.
pub fn router(sim: Arc<Simulator>) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/assets/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/assets/app.css",
            get(|| async { asset("text/css; charset=utf-8", APP_CSS) }),
        )
        .route("/assets/sample.png", get(sample_picture))
        .route("/api/state", get(state))
        .route("/api/events", get(events))
        .route("/api/messages", post(send_message))
        .route("/api/cards/press", post(press_card))
        .route("/api/conversations", post(add_conversation))
        .route("/api/faults", post(inject_fault))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(sim)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// The picture "发送图片" sends: the fake gateway's small bar chart (a 24×16 PNG).
fn sample_png() -> Vec<u8> {
    chart_png()
}

/// `GET /assets/sample.png`: the sample picture, to show it in the sender's bubble.
async fn sample_picture() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        sample_png(),
    )
        .into_response()
}

fn bad_request(message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": message.into() })),
    )
        .into_response()
}

/// `GET /api/state`: one state document.
async fn state(State(sim): State<Arc<Simulator>>, QueryParams(q): QueryParams<Query>) -> Response {
    Json(sim.state(&q)).into_response()
}

/// `GET /api/events`: a state document at once, then after every change (coalesced) and at
/// least every [`HEARTBEAT`].
async fn events(
    State(sim): State<Arc<Simulator>>,
    QueryParams(q): QueryParams<Query>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let watched = (sim.emulator.subscribe_changes(), sim.changes.subscribe());
    let stream = futures_util::stream::unfold(
        (sim, q, watched, true),
        |(sim, q, (mut record, mut book), first)| async move {
            if !first {
                tokio::select! {
                    _ = record.changed() => tokio::time::sleep(COALESCE).await,
                    _ = book.changed() => tokio::time::sleep(COALESCE).await,
                    _ = tokio::time::sleep(HEARTBEAT) => {}
                    _ = sim.stop.cancelled() => return None,
                }
                record.borrow_and_update();
                book.borrow_and_update();
            }
            let event = Event::default()
                .event("state")
                .json_data(sim.state(&q))
                .unwrap_or_else(|e| Event::default().event("error").data(e.to_string()));
            Some((Ok(event), (sim, q, (record, book), false)))
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// `POST /api/messages` body.
#[derive(Debug, Deserialize)]
struct NewMessage {
    conversation: String,
    #[serde(default)]
    sender: Option<String>,
    /// The text; with `picture` the caption (may be empty).
    #[serde(default)]
    text: String,
    #[serde(default = "yes")]
    mention: bool,
    /// Send the sample picture ([`sample_png`]) with the text.
    #[serde(default)]
    picture: bool,
}

fn yes() -> bool {
    true
}

/// `POST /api/messages`: a visitor typed a message or sent the sample picture. In a group it
/// reaches the robot only when the robot is @-mentioned, as in DingTalk; it then travels the
/// production path (emulator → Stream WebSocket → host → plugin). A picture is a file the
/// emulator serves behind its `downloadCode`: in a 1:1 without text a `picture` message, else
/// (a caption, or an @-mention in a group) `richText` with the text and the picture.
async fn send_message(
    State(sim): State<Arc<Simulator>>,
    body: Result<Json<NewMessage>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(m) = match body {
        Ok(body) => body,
        Err(e) => return bad_request(e.body_text()),
    };
    let text = m.text.trim();
    if text.is_empty() && !m.picture {
        return bad_request("the message is empty");
    }
    if text.len() > book::MAX_TEXT_BYTES {
        return bad_request(format!(
            "the message is {} bytes; the simulator takes at most {}",
            text.len(),
            book::MAX_TEXT_BYTES
        ));
    }
    let chosen = match m.sender.as_deref() {
        None => &book::USERS[0],
        Some(id) => match book::user(id) {
            Some(user) => user,
            None => return bad_request(format!("unknown sender {id}")),
        },
    };
    let Some(conversation) = sim.book().conversation(&m.conversation).cloned() else {
        return bad_request(format!("unknown conversation {}", m.conversation));
    };
    let sender = conversation.sender(chosen);
    let group = matches!(conversation.kind, book::Kind::Group);
    let mention = m.mention || !group;
    let at_ms = sim.now_ms();
    let id = if mention {
        let content = if m.picture {
            let code = sim
                .emulator
                .add_file("示例图片.png", "image/png", sample_png());
            if text.is_empty() && !group {
                Content::PictureCode(code)
            } else {
                let mut parts = Vec::new();
                if !text.is_empty() {
                    parts.push(RichPart::Text(text.to_owned()));
                }
                parts.push(RichPart::PictureCode(code));
                Content::RichText(parts)
            }
        } else {
            Content::Text(text.to_owned())
        };
        sim.emulator.push_bot_message(MessageSpec {
            chat: conversation.chat(),
            sender: sender.clone(),
            content,
            quoted_text: None,
            msg_id: None,
        })
    } else {
        sim.book().local_id()
    };
    sim.book().record(
        &conversation.id,
        Typed {
            id: id.clone(),
            sender: sender.nick,
            staff_id: sender.staff_id,
            text: text.to_owned(),
            picture: m.picture,
            at_ms,
            mention,
            delivered: mention,
        },
    );
    sim.changed();
    Json(json!({ "id": id, "delivered": mention })).into_response()
}

/// `POST /api/cards/press` body.
#[derive(Debug, Deserialize)]
struct NewPress {
    /// The card's `outTrackId`.
    card: String,
    /// Who presses (`staff_id`); default: whoever asked the question the card answers.
    #[serde(default)]
    user: Option<String>,
    /// The button (its action id); default: the card's first button.
    #[serde(default)]
    action: Option<String>,
}

/// `POST /api/cards/press`: a person presses a button the card shows now, as DingTalk
/// reports it to the app (a card callback with the button's id and empty params; the
/// emulator records the press and how the app answered it). Only a member of the card's
/// conversation can press, and only a button the card shows.
async fn press_card(
    State(sim): State<Arc<Simulator>>,
    body: Result<Json<NewPress>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(p) = match body {
        Ok(body) => body,
        Err(e) => return bad_request(e.body_text()),
    };
    let Some(card) = sim.emulator.card(&p.card) else {
        return bad_request(format!("unknown card {}", p.card));
    };
    let (conversation, asker) = {
        let book = sim.book();
        let conversation = book
            .conversations
            .iter()
            .find(|c| view::in_space(&card, c))
            .cloned();
        let asker = book.asked(&card.out_track_id).map(|m| m.staff_id.clone());
        (conversation, asker)
    };
    let Some(conversation) = conversation else {
        return bad_request(format!(
            "card {} is in none of the simulator's conversations",
            p.card
        ));
    };
    let user = match p.user.as_deref().or(asker.as_deref()) {
        Some(id) => match book::user(id) {
            Some(user) => user,
            None => return bad_request(format!("unknown user {id}")),
        },
        None => conversation.default_member(),
    };
    if !conversation.has_member(user) {
        return bad_request(format!(
            "{} is not in the 1:1 chat of card {}: only {} sees it",
            user.nick, p.card, conversation.title
        ));
    }
    let buttons = card.buttons();
    let action = match p.action.as_deref() {
        Some(action) if buttons.iter().any(|b| b.id == action) => action.to_owned(),
        Some(action) => {
            return bad_request(format!("card {} shows no button {action}", p.card));
        }
        None => match buttons.first() {
            Some(button) => button.id.clone(),
            None => return bad_request(format!("card {} shows no button", p.card)),
        },
    };
    match sim
        .emulator
        .press_card(&card.out_track_id, user.staff_id, &action, json!({}))
    {
        Ok(receipt) => {
            log::info!(
                "simulator: {} pressed {action} on card {}",
                user.nick,
                card.out_track_id
            );
            Json(json!({ "press": receipt.press, "user": user.staff_id, "action": action }))
                .into_response()
        }
        Err(e) => bad_request(format!("cannot press card {}: {e}", p.card)),
    }
}

/// `POST /api/conversations` body.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum NewConversation {
    Group { title: String },
    Direct { sender: String },
}

/// `POST /api/conversations`: adds a group or opens a 1:1 chat.
async fn add_conversation(
    State(sim): State<Arc<Simulator>>,
    body: Result<Json<NewConversation>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(new) = match body {
        Ok(body) => body,
        Err(e) => return bad_request(e.body_text()),
    };
    let added = match new {
        NewConversation::Group { title } => sim.book().add_group(&title),
        NewConversation::Direct { sender } => match book::user(&sender) {
            Some(user) => sim.book().add_direct(user),
            None => return bad_request(format!("unknown user {sender}")),
        },
    };
    match added {
        Ok(id) => {
            sim.changed();
            Json(json!({ "id": id })).into_response()
        }
        Err(AddError::Full) => bad_request(format!(
            "the simulator holds at most {} conversations",
            book::MAX_CONVERSATIONS
        )),
        Err(AddError::BadTitle) => bad_request("a group title has 1 to 40 characters"),
    }
}

/// `POST /api/faults` body.
#[derive(Debug, Deserialize)]
struct NewFault {
    fault: String,
}

/// `POST /api/faults`: injects one fault of the catalog.
async fn inject_fault(
    State(sim): State<Arc<Simulator>>,
    body: Result<Json<NewFault>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(new) = match body {
        Ok(body) => body,
        Err(e) => return bad_request(e.body_text()),
    };
    let Some(kind) = faults::find(&new.fault) else {
        return bad_request(format!("unknown fault {}", new.fault));
    };
    if kind.fake_gateway_only && sim.fake_gateway.is_none() {
        return bad_request(format!(
            "{} needs the built-in fake gateway (this run uses --gateway)",
            kind.id
        ));
    }
    let detail = faults::apply(kind, &sim.emulator, sim.fake_gateway.as_ref());
    log::info!("simulator: fault {}: {detail}", kind.id);
    sim.book().log_fault(FaultEntry {
        at_ms: sim.now_ms(),
        id: kind.id,
        detail: detail.clone(),
    });
    sim.changed();
    Json(json!({ "ok": true, "detail": detail })).into_response()
}
