//! The cards whose stop button can stop a reply: each card of a reply in flight, with the
//! reply's stop token and who may press it. A card leaves when its reply ends, so a late press
//! (or a second one) finds nothing to stop.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

use crate::event::AppId;

/// The reply a card belongs to, as far as its stop button is concerned.
#[derive(Debug, Clone)]
pub struct CardOwner {
    /// The conversation key (for log lines).
    pub conversation: String,
    /// The app whose robot posted the card (the one that tells a colleague it is not theirs).
    pub app: AppId,
    /// The asker's staff id (the `userId` of a press); `None` when nobody asked (a card the
    /// robot posts on its own) or the event had none: then anyone in the chat may stop it.
    pub asker: Option<String>,
    /// A group chat (where only the asker may stop the reply) or a 1:1 chat (anyone, that is
    /// the one person in it).
    pub group: bool,
    /// Cancels the reply.
    pub stop: CancellationToken,
}

/// What a press may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PressVerdict {
    /// The reply was stopped (or was already stopping).
    Stopped {
        /// The reply's conversation key.
        conversation: String,
        /// The reply had already been stopped before this press.
        already: bool,
    },
    /// Somebody other than the asker pressed it in a group: nothing happens.
    NotTheAsker {
        /// The reply's conversation key.
        conversation: String,
        /// The app whose robot posted the card.
        app: AppId,
    },
    /// The card's reply has ended (or the card is not one of this process's).
    NotInFlight,
}

type Owners = Arc<Mutex<HashMap<String, CardOwner>>>;

/// Every card of a reply in flight. Threads: any.
#[derive(Default)]
pub struct StoppableCards {
    owners: Owners,
}

impl StoppableCards {
    /// Registers a reply; its cards are added with [`ReplyCards::add`] and all leave when the
    /// returned handle is dropped.
    pub fn reply(&self, owner: CardOwner) -> ReplyCards {
        ReplyCards {
            owners: self.owners.clone(),
            owner,
            cards: Vec::new(),
        }
    }

    /// A press of the stop button of `card` by `user`: stops the reply when `user` may.
    pub fn press(&self, card: &str, user: &str) -> PressVerdict {
        let owner = self
            .owners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(card)
            .cloned();
        let Some(owner) = owner else {
            return PressVerdict::NotInFlight;
        };
        // Nobody asked for a card the robot posted on its own: anyone in the chat may stop it.
        if owner.group && owner.asker.as_deref().is_some_and(|asker| asker != user) {
            return PressVerdict::NotTheAsker {
                conversation: owner.conversation,
                app: owner.app,
            };
        }
        let already = owner.stop.is_cancelled();
        owner.stop.cancel();
        PressVerdict::Stopped {
            conversation: owner.conversation,
            already,
        }
    }

    /// How many cards have a stop button that stops something.
    pub fn in_flight(&self) -> usize {
        self.owners.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// The cards of one reply; they leave the registry when this is dropped. Owned by the reply
/// task.
pub struct ReplyCards {
    owners: Owners,
    owner: CardOwner,
    cards: Vec<String>,
}

impl ReplyCards {
    /// A card of the reply now exists: its stop button stops the reply.
    pub fn add(&mut self, card: &str) {
        self.owners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(card.to_owned(), self.owner.clone());
        self.cards.push(card.to_owned());
    }
}

impl Drop for ReplyCards {
    fn drop(&mut self) {
        let mut owners = self.owners.lock().unwrap_or_else(|e| e.into_inner());
        for card in &self.cards {
            owners.remove(card);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(group: bool, stop: &CancellationToken) -> CardOwner {
        CardOwner {
            conversation: "cid-群".into(),
            app: AppId(0),
            asker: Some("提问者".into()),
            group,
            stop: stop.clone(),
        }
    }

    #[test]
    fn in_a_group_only_the_asker_stops_the_reply() {
        let cards = StoppableCards::default();
        let stop = CancellationToken::new();
        let mut reply = cards.reply(owner(true, &stop));
        reply.add("card_1");
        assert!(matches!(
            cards.press("card_1", "旁观者"),
            PressVerdict::NotTheAsker { .. }
        ));
        assert!(!stop.is_cancelled());
        assert_eq!(
            cards.press("card_1", "提问者"),
            PressVerdict::Stopped {
                conversation: "cid-群".into(),
                already: false
            }
        );
        assert!(stop.is_cancelled());
        assert!(matches!(
            cards.press("card_1", "提问者"),
            PressVerdict::Stopped { already: true, .. }
        ));
    }

    #[test]
    fn in_a_1_to_1_chat_the_press_stops_the_reply() {
        let cards = StoppableCards::default();
        let stop = CancellationToken::new();
        let mut reply = cards.reply(owner(false, &stop));
        reply.add("card_1");
        assert!(matches!(
            cards.press("card_1", "另一个 id"),
            PressVerdict::Stopped { .. }
        ));
    }

    #[test]
    fn every_card_of_a_reply_leaves_when_the_reply_ends() {
        let cards = StoppableCards::default();
        let stop = CancellationToken::new();
        let mut reply = cards.reply(owner(true, &stop));
        reply.add("card_1");
        reply.add("card_2");
        assert_eq!(cards.in_flight(), 2);
        drop(reply);
        assert_eq!(cards.in_flight(), 0);
        assert_eq!(cards.press("card_2", "提问者"), PressVerdict::NotInFlight);
        assert!(!stop.is_cancelled());
    }
}
