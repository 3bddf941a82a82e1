//! The simulator's own record: the conversations on the page, the messages people typed, and
//! the faults a visitor injected. What the robot answered is not kept here: the page reads it
//! from the emulator's record, as DingTalk would show it.
//!
//! Everything is bounded (conversations, messages per conversation, fault log), so a long
//! session does not grow the process. One [`Book`] is shared by the web handlers behind a
//! mutex that is never held across an `await`.

use std::collections::VecDeque;

use openclaw_dingtalk_emulator::event::{direct_conversation_id, Chat, Sender};

/// At most this many conversations (the visitor's own plus the starting ones).
pub const MAX_CONVERSATIONS: usize = 30;
/// Messages kept per conversation (the page shows the newest of these).
pub const MAX_MESSAGES: usize = 100;
/// Entries kept in the fault log.
pub const MAX_FAULTS: usize = 20;
/// Longest message a visitor may type, in UTF-8 bytes (DingTalk's own text limit is larger;
/// this only keeps one request small).
pub const MAX_TEXT_BYTES: usize = 8 * 1024;
/// Cards whose message is remembered (the emulator keeps as many cards; see `RECORD_LIMITS`).
pub const MAX_CARD_LINKS: usize = 250;

/// A person who can type on the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// `senderStaffId`.
    pub staff_id: &'static str,
    /// `senderNick`.
    pub nick: &'static str,
}

/// The people on the page; the first is the default sender.
pub const USERS: [User; 3] = [
    User {
        staff_id: "016650123456789",
        nick: "Alice",
    },
    User {
        staff_id: "016650100000001",
        nick: "张伟",
    },
    User {
        staff_id: "016650100000002",
        nick: "李娜",
    },
];

/// The user with `staff_id`.
pub fn user(staff_id: &str) -> Option<&'static User> {
    USERS.iter().find(|u| u.staff_id == staff_id)
}

/// Group or one-to-one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A group chat the robot is in; it hears only @-mentions.
    Group,
    /// A one-to-one chat between the robot and this user.
    Direct(&'static User),
}

/// One conversation on the page.
#[derive(Debug, Clone)]
pub struct Conversation {
    /// `openConversationId` (`cid…`), as DingTalk puts it in the robot message.
    pub id: String,
    /// Group title, or the user's nick for a 1:1.
    pub title: String,
    /// Group or 1:1.
    pub kind: Kind,
    /// What was typed here, oldest first, at most [`MAX_MESSAGES`].
    pub messages: VecDeque<Typed>,
}

impl Conversation {
    /// Where its AI Cards are delivered: the `openSpaceId` segment the plugin writes
    /// (`IM_GROUP.<cid>` in a group, `IM_ROBOT.<staffId>` in a 1:1).
    pub fn card_space(&self) -> String {
        match self.kind {
            Kind::Group => format!("IM_GROUP.{}", self.id),
            Kind::Direct(user) => format!("IM_ROBOT.{}", user.staff_id),
        }
    }

    /// Whether a plain robot message with this `target` belongs here (a session-webhook or
    /// group send names the conversation; a 1:1 batch send names the users).
    pub fn receives(&self, target: &str) -> bool {
        target == self.id
            || match self.kind {
                Kind::Direct(user) => target.split(',').any(|t| t.trim() == user.staff_id),
                Kind::Group => false,
            }
    }

    /// The emulator's `Chat` for a message typed here.
    pub fn chat(&self) -> Chat {
        match self.kind {
            Kind::Group => Chat::Group {
                conversation_id: self.id.clone(),
                title: self.title.clone(),
            },
            Kind::Direct(_) => Chat::Direct,
        }
    }

    /// Whether `user` sees this conversation's cards (everyone is in a group; a 1:1 has its user).
    pub fn has_member(&self, user: &User) -> bool {
        match self.kind {
            Kind::Group => true,
            Kind::Direct(own) => own == user,
        }
    }

    /// Who acts here when nobody is named: a 1:1's user, the first user in a group.
    pub fn default_member(&self) -> &'static User {
        match self.kind {
            Kind::Group => &USERS[0],
            Kind::Direct(user) => user,
        }
    }

    /// The sender of a message typed here by `chosen` (a 1:1 always has its own user).
    pub fn sender(&self, chosen: &'static User) -> Sender {
        let user = match self.kind {
            Kind::Group => chosen,
            Kind::Direct(user) => user,
        };
        Sender {
            staff_id: user.staff_id.into(),
            nick: user.nick.into(),
        }
    }
}

/// A message a visitor typed.
#[derive(Debug, Clone)]
pub struct Typed {
    /// Its `msgId` (or a local id when it was not delivered).
    pub id: String,
    /// The sender's nick.
    pub sender: String,
    /// The sender's `senderStaffId`.
    pub staff_id: String,
    /// The text as typed (a picture's caption, possibly empty).
    pub text: String,
    /// The message carried the simulator's sample picture.
    pub picture: bool,
    /// When, in ms on the emulator's clock.
    pub at_ms: u64,
    /// The robot was @-mentioned (always true in a 1:1).
    pub mention: bool,
    /// DingTalk delivered it to the robot.
    pub delivered: bool,
}

/// One injected fault, for the page's log.
#[derive(Debug, Clone)]
pub struct FaultEntry {
    /// When, in ms on the emulator's clock.
    pub at_ms: u64,
    /// The fault's id.
    pub id: &'static str,
    /// What it did.
    pub detail: String,
}

/// The simulator's record.
#[derive(Debug, Default)]
pub struct Book {
    /// Conversations, in the order they were added.
    pub conversations: Vec<Conversation>,
    /// Injected faults, oldest first, at most [`MAX_FAULTS`].
    pub faults: VecDeque<FaultEntry>,
    /// Which message each card answers (`outTrackId`, `msgId`), oldest first, at most
    /// [`MAX_CARD_LINKS`], as the host saw the plugin create them.
    card_links: VecDeque<(String, String)>,
    /// Local ids for undelivered messages.
    next_local: u64,
}

/// Why a conversation could not be added.
#[derive(Debug, PartialEq, Eq)]
pub enum AddError {
    /// [`MAX_CONVERSATIONS`] reached.
    Full,
    /// An empty or over-long title.
    BadTitle,
}

impl Book {
    /// The starting page: two groups and a 1:1 with the first user.
    pub fn new(first_group: (&str, &str)) -> Book {
        let mut book = Book::default();
        book.conversations.push(group(first_group.0, first_group.1));
        book.conversations
            .push(group("cidSimulatorProductTeam==", "产品研发群"));
        book.conversations.push(direct(&USERS[0]));
        book
    }

    /// The conversation `id`.
    pub fn conversation(&self, id: &str) -> Option<&Conversation> {
        self.conversations.iter().find(|c| c.id == id)
    }

    /// Adds a group titled `title`; returns its id.
    pub fn add_group(&mut self, title: &str) -> Result<String, AddError> {
        let title = title.trim();
        if title.is_empty() || title.chars().count() > 40 {
            return Err(AddError::BadTitle);
        }
        if self.conversations.len() >= MAX_CONVERSATIONS {
            return Err(AddError::Full);
        }
        let id = format!("cidSimulatorGroup{:03}==", self.conversations.len() + 1);
        self.conversations.push(group(&id, title));
        Ok(id)
    }

    /// The 1:1 chat with `user`, added if it does not exist; returns its id.
    pub fn add_direct(&mut self, user: &'static User) -> Result<String, AddError> {
        if let Some(c) = self
            .conversations
            .iter()
            .find(|c| c.kind == Kind::Direct(user))
        {
            return Ok(c.id.clone());
        }
        if self.conversations.len() >= MAX_CONVERSATIONS {
            return Err(AddError::Full);
        }
        let c = direct(user);
        let id = c.id.clone();
        self.conversations.push(c);
        Ok(id)
    }

    /// Records a typed message in conversation `id` (dropping the oldest beyond
    /// [`MAX_MESSAGES`]).
    pub fn record(&mut self, id: &str, typed: Typed) {
        if let Some(c) = self.conversations.iter_mut().find(|c| c.id == id) {
            if c.messages.len() == MAX_MESSAGES {
                c.messages.pop_front();
            }
            c.messages.push_back(typed);
        }
    }

    /// A local id for a message DingTalk did not deliver.
    pub fn local_id(&mut self) -> String {
        self.next_local += 1;
        format!("local-{}", self.next_local)
    }

    /// Notes that card `card` answers message `msg_id` (dropping the oldest beyond
    /// [`MAX_CARD_LINKS`]).
    pub fn link_card(&mut self, card: &str, msg_id: &str) {
        if self.card_links.len() == MAX_CARD_LINKS {
            self.card_links.pop_front();
        }
        self.card_links
            .push_back((card.to_owned(), msg_id.to_owned()));
    }

    /// The typed message card `card` answers, if it is known and still kept.
    pub fn asked(&self, card: &str) -> Option<&Typed> {
        let (_, msg_id) = self.card_links.iter().rev().find(|(c, _)| c == card)?;
        self.conversations
            .iter()
            .flat_map(|c| c.messages.iter())
            .find(|m| m.id == *msg_id)
    }

    /// Logs an injected fault (dropping the oldest beyond [`MAX_FAULTS`]).
    pub fn log_fault(&mut self, entry: FaultEntry) {
        if self.faults.len() == MAX_FAULTS {
            self.faults.pop_front();
        }
        self.faults.push_back(entry);
    }
}

fn group(id: &str, title: &str) -> Conversation {
    Conversation {
        id: id.into(),
        title: title.into(),
        kind: Kind::Group,
        messages: VecDeque::new(),
    }
}

/// A 1:1 chat. Its id is what DingTalk puts in the robot message's `conversationId` (the
/// emulator derives it from the user).
fn direct(user: &'static User) -> Conversation {
    Conversation {
        id: direct_conversation_id(user.staff_id),
        title: user.nick.into(),
        kind: Kind::Direct(user),
        messages: VecDeque::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(n: usize) -> Typed {
        Typed {
            id: format!("msg{n}"),
            sender: "张伟".into(),
            staff_id: USERS[1].staff_id.into(),
            text: format!("第{n}条消息"),
            picture: false,
            at_ms: n as u64,
            mention: true,
            delivered: true,
        }
    }

    #[test]
    fn messages_per_conversation_are_bounded_and_newest_kept() {
        let mut book = Book::new(("cidA==", "测试群"));
        for n in 0..(MAX_MESSAGES + 25) {
            book.record("cidA==", typed(n));
        }
        let c = book.conversation("cidA==").unwrap();
        assert_eq!(c.messages.len(), MAX_MESSAGES);
        assert_eq!(c.messages.front().unwrap().text, "第25条消息");
        assert_eq!(
            c.messages.back().unwrap().text,
            format!("第{}条消息", MAX_MESSAGES + 24)
        );
    }

    #[test]
    fn conversations_are_bounded() {
        let mut book = Book::new(("cidA==", "测试群"));
        while book.conversations.len() < MAX_CONVERSATIONS {
            book.add_group("新的群").unwrap();
        }
        assert_eq!(book.add_group("再来一个"), Err(AddError::Full));
        assert_eq!(book.add_group("   "), Err(AddError::BadTitle));
        // An existing 1:1 is found, not added.
        assert!(book.add_direct(&USERS[0]).is_ok());
    }

    #[test]
    fn cards_are_linked_to_the_message_they_answer_and_links_are_bounded() {
        let mut book = Book::new(("cidA==", "测试群"));
        book.record("cidA==", typed(1));
        book.link_card("card_a", "msg1");
        book.link_card("card_b", "msg1");
        assert_eq!(
            book.asked("card_a").map(|m| m.text.as_str()),
            Some("第1条消息")
        );
        assert_eq!(
            book.asked("card_b").map(|m| m.staff_id.as_str()),
            Some(USERS[1].staff_id)
        );
        assert!(book.asked("card_unknown").is_none());
        for n in 0..MAX_CARD_LINKS {
            book.link_card(&format!("card_{n}"), "msg1");
        }
        assert_eq!(book.card_links.len(), MAX_CARD_LINKS);
        assert!(book.asked("card_a").is_none(), "the oldest link is gone");
        assert!(book
            .asked(&format!("card_{}", MAX_CARD_LINKS - 1))
            .is_some());
    }

    #[test]
    fn a_direct_chat_receives_batch_sends_to_its_user() {
        let book = Book::new(("cidA==", "测试群"));
        let direct = book
            .conversations
            .iter()
            .find(|c| matches!(c.kind, Kind::Direct(_)))
            .unwrap();
        assert!(direct.receives(&format!("x, {}", USERS[0].staff_id)));
        assert!(!direct.receives(USERS[1].staff_id));
        assert_eq!(
            direct.card_space(),
            format!("IM_ROBOT.{}", USERS[0].staff_id)
        );
        assert!(direct.has_member(&USERS[0]) && !direct.has_member(&USERS[1]));
        assert!(
            book.conversations[0].has_member(&USERS[2]),
            "a group has everyone"
        );
    }
}
