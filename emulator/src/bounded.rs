//! Bounded record containers for long sessions (the `record_limit` of
//! [`EmulatorConfig`](crate::dingtalk::EmulatorConfig) and [`FakeGatewayConfig`](crate::gateway::FakeGatewayConfig)).
//!
//! With a limit of `n` a container keeps its newest `n` entries; without one it grows as before. They are
//! plain data: each lives inside its owner's lock.

use std::{
    borrow::Borrow,
    collections::{BTreeMap, HashMap, VecDeque},
    hash::Hash,
};

/// The effective limit of a configured `record_limit`: `Some(0)` keeps one entry, like `Some(1)`.
pub(crate) fn effective(limit: Option<usize>) -> Option<usize> {
    limit.map(|n| n.max(1))
}

/// Drops the oldest (front) entries of `list` until at most `limit` remain.
pub(crate) fn trim_front<T>(list: &mut VecDeque<T>, limit: Option<usize>) {
    if let Some(limit) = limit {
        let excess = list.len().saturating_sub(limit);
        list.drain(..excess);
    }
}

/// Appends `item`, drops the oldest entries beyond `limit`, and returns the new (kept) entry.
pub(crate) fn push<T>(list: &mut VecDeque<T>, item: T, limit: Option<usize>) -> &mut T {
    list.push_back(item);
    trim_front(list, effective(limit));
    let last = list.len() - 1;
    &mut list[last]
}

/// A map that remembers insertion order and, with a limit, evicts old entries when a new one comes in.
#[derive(Debug)]
pub(crate) struct BoundedMap<K, V> {
    limit: Option<usize>,
    next: u64,
    entries: HashMap<K, (u64, V)>,
    order: BTreeMap<u64, K>,
}

impl<K, V> Default for BoundedMap<K, V> {
    fn default() -> Self {
        Self::new(None)
    }
}

impl<K, V> BoundedMap<K, V> {
    /// An empty map keeping at most `limit` entries (`None`: unbounded).
    pub(crate) fn new(limit: Option<usize>) -> Self {
        Self {
            limit: effective(limit),
            next: 0,
            entries: HashMap::new(),
            order: BTreeMap::new(),
        }
    }
}

impl<K: Hash + Eq + Clone, V> BoundedMap<K, V> {
    /// How many entries it holds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when `key` is present.
    pub(crate) fn contains_key<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.entries.contains_key(key)
    }

    /// The value of `key`.
    pub(crate) fn get<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.entries.get(key).map(|(_, v)| v)
    }

    /// The value of `key`, for changing it.
    pub(crate) fn get_mut<Q: Hash + Eq + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        self.entries.get_mut(key).map(|(_, v)| v)
    }

    /// Removes `key`.
    pub(crate) fn remove<Q: Hash + Eq + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let (n, value) = self.entries.remove(key)?;
        self.order.remove(&n);
        Some(value)
    }

    /// The values, oldest first.
    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.order.values().filter_map(|k| self.get(k))
    }

    /// The values in no particular order, for changing them.
    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.entries.values_mut().map(|(_, v)| v)
    }

    /// Inserts `key` as the newest entry (replacing an entry with that key) and evicts the oldest entries
    /// beyond the limit; returns the evicted ones.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Vec<(K, V)> {
        self.insert_evicting(key, value, |_| true)
    }

    /// Like [`insert`](Self::insert), but evicts the oldest entry for which `done` holds first, and only
    /// then, if none does, the oldest entry. The new entry itself is never evicted.
    pub(crate) fn insert_evicting(
        &mut self,
        key: K,
        value: V,
        done: impl Fn(&V) -> bool,
    ) -> Vec<(K, V)> {
        self.remove(&key);
        self.next += 1;
        self.order.insert(self.next, key.clone());
        self.entries.insert(key.clone(), (self.next, value));
        let mut evicted = Vec::new();
        let Some(limit) = self.limit else {
            return evicted;
        };
        while self.entries.len() > limit {
            let older = || self.order.values().filter(|k| **k != key);
            let victim = older()
                .find(|k| self.get(*k).is_some_and(&done))
                .or_else(|| older().next())
                .cloned();
            let Some(victim) = victim else { break };
            if let Some(value) = self.remove(&victim) {
                evicted.push((victim, value));
            }
        }
        evicted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_keep_the_newest() {
        let mut list = VecDeque::new();
        for i in 0..10 {
            assert_eq!(*push(&mut list, i, Some(3)), i);
        }
        assert_eq!(list, [7, 8, 9]);
        push(&mut list, 10, Some(0));
        assert_eq!(list, [10], "a limit of 0 keeps one");
        let mut unbounded = VecDeque::new();
        for i in 0..10 {
            push(&mut unbounded, i, None);
        }
        assert_eq!(unbounded.len(), 10);
    }

    #[test]
    fn maps_evict_done_entries_first() {
        // Values: (name, done).
        let mut map = BoundedMap::new(Some(3));
        assert!(map.insert("a", ("a", false)).is_empty());
        map.insert("b", ("b", true));
        map.insert("c", ("c", false));
        let evicted = map.insert_evicting("d", ("d", false), |v| v.1);
        assert_eq!(
            evicted,
            [("b", ("b", true))],
            "the oldest done entry goes first"
        );
        let evicted = map.insert_evicting("e", ("e", true), |v| v.1);
        assert_eq!(
            evicted,
            [("a", ("a", false))],
            "none done but the new one: the oldest goes"
        );
        let names: Vec<_> = map.values().map(|v| v.0).collect();
        assert_eq!(names, ["c", "d", "e"]);
        assert_eq!(map.remove("d"), Some(("d", false)));
        assert_eq!(map.len(), 2);
        assert!(map.contains_key("e") && !map.contains_key("a"));
    }
}
