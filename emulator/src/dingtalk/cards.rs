//! Card storage: instances by `outTrackId`, in creation order, plus the streaming `guid`s already applied.

use std::collections::{HashMap, HashSet};

use super::{card_callbacks::CardCallbackSetting, Card, CardState};
use crate::bounded::BoundedMap;

/// All card instances (at most [`record_limit`](super::EmulatorConfig::record_limit) of them).
#[derive(Debug, Default)]
pub(crate) struct CardStore {
    cards: BoundedMap<String, Card>,
    guids: HashMap<String, HashSet<String>>,
    /// `callbackType` / `callbackRouteKey` of interactive cards.
    callbacks: HashMap<String, CardCallbackSetting>,
}

impl CardStore {
    /// A store keeping at most `limit` cards (`None`: all).
    pub(crate) fn new(limit: Option<usize>) -> Self {
        Self {
            cards: BoundedMap::new(limit),
            guids: HashMap::new(),
            callbacks: HashMap::new(),
        }
    }

    /// True when `out_track_id` is taken.
    pub(crate) fn contains(&self, out_track_id: &str) -> bool {
        self.cards.contains_key(out_track_id)
    }

    /// A card by `outTrackId`.
    pub(crate) fn get(&self, out_track_id: &str) -> Option<&Card> {
        self.cards.get(out_track_id)
    }

    /// A card by `outTrackId`, for changing it.
    pub(crate) fn get_mut(&mut self, out_track_id: &str) -> Option<&mut Card> {
        self.cards.get_mut(out_track_id)
    }

    /// Adds a new card (callers check [`CardStore::contains`] first; a duplicate is ignored). Over the
    /// limit, the oldest finished or failed card is evicted, or the oldest card when all are in progress
    /// (never the new one), with its applied `guid`s.
    pub(crate) fn insert(&mut self, card: Card) {
        if self.contains(&card.out_track_id) {
            return;
        }
        let evicted = self
            .cards
            .insert_evicting(card.out_track_id.clone(), card, |c| {
                matches!(c.state, CardState::Finished | CardState::Failed)
            });
        for (out_track_id, _) in evicted {
            self.guids.remove(&out_track_id);
            self.callbacks.remove(&out_track_id);
        }
    }

    /// Notes how an existing card reports presses.
    pub(crate) fn set_callback(&mut self, out_track_id: &str, setting: CardCallbackSetting) {
        if self.contains(out_track_id) {
            self.callbacks.insert(out_track_id.to_string(), setting);
        }
    }

    /// How a card reports presses (`None`: it was created without `callbackType`).
    pub(crate) fn callback(&self, out_track_id: &str) -> Option<&CardCallbackSetting> {
        self.callbacks.get(out_track_id)
    }

    /// Every card in creation order.
    pub(crate) fn all(&self) -> Vec<Card> {
        self.cards.values().cloned().collect()
    }

    /// True when a streaming `guid` was already applied to a card (a retry of an applied call).
    pub(crate) fn guid_used(&self, out_track_id: &str, guid: &str) -> bool {
        self.guids
            .get(out_track_id)
            .is_some_and(|used| used.contains(guid))
    }

    /// Marks a streaming `guid` as applied to a card.
    pub(crate) fn mark_guid(&mut self, out_track_id: &str, guid: &str) {
        self.guids
            .entry(out_track_id.to_string())
            .or_default()
            .insert(guid.to_string());
    }
}
