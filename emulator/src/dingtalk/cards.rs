//! Card storage: instances by `outTrackId`, in creation order, plus the streaming `guid`s already applied.

use std::collections::{HashMap, HashSet};

use super::Card;

/// All card instances.
#[derive(Debug, Default)]
pub(crate) struct CardStore {
    cards: Vec<Card>,
    index: HashMap<String, usize>,
    guids: HashMap<String, HashSet<String>>,
}

impl CardStore {
    /// True when `out_track_id` is taken.
    pub(crate) fn contains(&self, out_track_id: &str) -> bool {
        self.index.contains_key(out_track_id)
    }

    /// A card by `outTrackId`.
    pub(crate) fn get(&self, out_track_id: &str) -> Option<&Card> {
        self.index.get(out_track_id).map(|&i| &self.cards[i])
    }

    /// A card by `outTrackId`, for changing it.
    pub(crate) fn get_mut(&mut self, out_track_id: &str) -> Option<&mut Card> {
        self.index.get(out_track_id).map(|&i| &mut self.cards[i])
    }

    /// Adds a new card (callers check [`CardStore::contains`] first; a duplicate is ignored).
    pub(crate) fn insert(&mut self, card: Card) {
        if self.contains(&card.out_track_id) {
            return;
        }
        self.index
            .insert(card.out_track_id.clone(), self.cards.len());
        self.cards.push(card);
    }

    /// Every card in creation order.
    pub(crate) fn all(&self) -> Vec<Card> {
        self.cards.clone()
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
