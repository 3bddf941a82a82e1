//! Connection tickets: issued by `connections/open`, single-use, valid for a limited time
//! (90 s at DingTalk, docs/dingtalk-events.md, "Tickets").

use super::Subscription;
use crate::bounded::BoundedMap;

/// A ticket that was issued and not yet used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ticket {
    /// When it was issued, in ms since the emulator started.
    pub(crate) issued_at_ms: u64,
    /// The app it was issued to.
    pub(crate) app_key: String,
    /// What the connection subscribes to.
    pub(crate) subscriptions: Vec<Subscription>,
}

/// Why a ticket cannot open a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TicketError {
    /// Never issued.
    Unknown,
    /// Already used to open a connection.
    Used,
    /// Older than the ticket lifetime.
    Expired,
}

impl TicketError {
    /// A short reason for the rejection body.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            TicketError::Unknown => "ticket is unknown",
            TicketError::Used => "ticket was already used",
            TicketError::Expired => "ticket has expired",
        }
    }
}

/// Issued tickets: at most [`record_limit`](crate::dingtalk::EmulatorConfig::record_limit) unused and as
/// many used ones (the oldest go; an evicted ticket is then unknown).
#[derive(Debug, Default)]
pub(crate) struct TicketStore {
    open: BoundedMap<String, Ticket>,
    used: BoundedMap<String, ()>,
}

impl TicketStore {
    /// A store keeping at most `limit` unused and `limit` used tickets (`None`: all).
    pub(crate) fn new(limit: Option<usize>) -> Self {
        Self {
            open: BoundedMap::new(limit),
            used: BoundedMap::new(limit),
        }
    }

    /// Issues a new ticket.
    pub(crate) fn issue(&mut self, ticket: Ticket) -> String {
        let value = uuid::Uuid::new_v4().to_string();
        self.open.insert(value.clone(), ticket);
        value
    }

    /// Uses a ticket: succeeds once, within `ttl_ms` of its issue.
    pub(crate) fn redeem(
        &mut self,
        value: &str,
        now_ms: u64,
        ttl_ms: u64,
    ) -> Result<Ticket, TicketError> {
        if self.used.contains_key(value) {
            return Err(TicketError::Used);
        }
        let ticket = self.open.remove(value).ok_or(TicketError::Unknown)?;
        self.used.insert(value.to_owned(), ());
        if now_ms.saturating_sub(ticket.issued_at_ms) > ttl_ms {
            return Err(TicketError::Expired);
        }
        Ok(ticket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(at: u64) -> Ticket {
        Ticket {
            issued_at_ms: at,
            app_key: "app".into(),
            subscriptions: vec![],
        }
    }

    #[test]
    fn single_use_and_time_limited() {
        let mut store = TicketStore::default();
        let a = store.issue(ticket(0));
        assert_eq!(store.redeem(&a, 90_000, 90_000), Ok(ticket(0)));
        assert_eq!(store.redeem(&a, 90_000, 90_000), Err(TicketError::Used));
        let b = store.issue(ticket(0));
        assert_eq!(store.redeem(&b, 90_001, 90_000), Err(TicketError::Expired));
        assert_eq!(store.redeem(&b, 1, 90_000), Err(TicketError::Used));
        assert_eq!(store.redeem("nope", 0, 90_000), Err(TicketError::Unknown));
    }
}
