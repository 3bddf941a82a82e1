//! Routes: which gateway agent (and preamble) answers a message. The manifest's `routes:` are
//! tried in order; the first whose conditions all hold takes the message (a leading keyword
//! is stripped from the text); a message no route takes goes to `gateway.model`. See
//! `docs/manifest.md`, "Routes".

use crate::event::{BotMessage, Chat};
use crate::manifest::{ChatKind, RouteConfig, RouteMatch};

/// The name of the route of messages no rule takes.
pub const DEFAULT_ROUTE: &str = "default";

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteChoice {
    /// The route's name ([`DEFAULT_ROUTE`] when no rule matched).
    pub name: String,
    /// The agent target, when the route names one (else `gateway.model`).
    pub model: Option<String>,
    /// The preamble, when the route sets one (else `conversation.preamble`).
    pub preamble: Option<String>,
}

/// The manifest's routes, in order. Threads: any (read-only).
#[derive(Debug, Clone, Default)]
pub struct Routes {
    routes: Vec<RouteConfig>,
    /// Each app's name and app key, by [`AppId`](crate::event::AppId) (`match.apps` names an
    /// app by either).
    apps: Vec<(String, String)>,
}

impl Routes {
    /// The routes of a manifest whose apps are `apps` (name and app key, in order).
    pub fn new(routes: Vec<RouteConfig>, apps: Vec<(String, String)>) -> Routes {
        Routes { routes, apps }
    }

    /// The route of `msg`, whose text is `text`, and the text the model gets (the route's
    /// keyword stripped).
    pub fn choose(&self, msg: &BotMessage, text: &str) -> (RouteChoice, String) {
        for route in &self.routes {
            if let Some(rest) = self.matches(&route.when, msg, text) {
                let choice = RouteChoice {
                    name: route.name.clone(),
                    model: route.model.clone(),
                    preamble: route.preamble.clone(),
                };
                return (choice, rest);
            }
        }
        let choice = RouteChoice {
            name: DEFAULT_ROUTE.to_owned(),
            model: None,
            preamble: None,
        };
        (choice, text.to_owned())
    }

    /// The route named `name` (a proactive prompt's), [`DEFAULT_ROUTE`] included; `None` when
    /// no route has that name.
    pub fn by_name(&self, name: &str) -> Option<RouteChoice> {
        if name == DEFAULT_ROUTE {
            return Some(RouteChoice {
                name: DEFAULT_ROUTE.to_owned(),
                model: None,
                preamble: None,
            });
        }
        self.routes
            .iter()
            .find(|r| r.name == name)
            .map(|r| RouteChoice {
                name: r.name.clone(),
                model: r.model.clone(),
                preamble: r.preamble.clone(),
            })
    }

    /// The names of the routes, for an error naming the choices.
    pub fn names(&self) -> Vec<&str> {
        std::iter::once(DEFAULT_ROUTE)
            .chain(self.routes.iter().map(|r| r.name.as_str()))
            .collect()
    }

    /// The text left for the model when every condition of `when` holds for `msg`.
    fn matches(&self, when: &RouteMatch, msg: &BotMessage, text: &str) -> Option<String> {
        let listed = |list: &Option<Vec<String>>, value: Option<&str>| match list {
            None => true,
            Some(list) => value.is_some_and(|v| list.iter().any(|x| x == v)),
        };
        let chat = match msg.chat {
            Chat::Group { .. } => ChatKind::Group,
            Chat::Direct => ChatKind::Direct,
        };
        let app_listed = match (&when.apps, self.apps.get(msg.app.0)) {
            (None, _) => true,
            (Some(list), Some((name, key))) => list.iter().any(|x| x == name || x == key),
            (Some(_), None) => false,
        };
        let holds = app_listed
            && listed(&when.conversations, Some(&msg.conversation_id))
            && when.chat.is_none_or(|c| c == chat)
            && listed(&when.senders, msg.sender.staff_id.as_deref());
        if !holds {
            return None;
        }
        match &when.keyword {
            None => Some(text.to_owned()),
            Some(keyword) => strip_keyword(text, keyword).map(str::to_owned),
        }
    }
}

/// `text` without its leading `keyword` (which must be followed by whitespace or the end),
/// or `None` when it does not start with it.
fn strip_keyword<'t>(text: &'t str, keyword: &str) -> Option<&'t str> {
    let rest = text.trim_start().strip_prefix(keyword)?;
    match rest.chars().next() {
        None => Some(rest),
        Some(c) if c.is_whitespace() => Some(rest.trim_start()),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn message(conversation_type: &str, staff_id: &str, text: &str) -> BotMessage {
        BotMessage::parse(
            &json!({"msgId":"m1","conversationId":"cid-研发群","conversationType":conversation_type,
                "conversationTitle":"研发群","senderId":"u1","senderStaffId":staff_id,
                "senderNick":"小张","msgtype":"text","text":{"content":text}})
            .to_string(),
        )
        .unwrap()
    }

    fn route(name: &str, when: RouteMatch, model: &str) -> RouteConfig {
        RouteConfig {
            name: name.into(),
            when,
            model: Some(model.into()),
            preamble: None,
        }
    }

    fn routes() -> Routes {
        Routes::new(
            vec![
                route(
                    "hr",
                    RouteMatch {
                        keyword: Some("/hr".into()),
                        ..RouteMatch::default()
                    },
                    "openclaw/hr",
                ),
                route(
                    "oncall-dm",
                    RouteMatch {
                        chat: Some(ChatKind::Direct),
                        senders: Some(vec!["值班-01".into()]),
                        ..RouteMatch::default()
                    },
                    "openclaw/oncall",
                ),
            ],
            vec![("default".into(), "dingapp".into())],
        )
    }

    #[test]
    fn a_leading_keyword_picks_its_agent_and_is_stripped() {
        let msg = message("2", "员工-1", "/hr 年假怎么算");
        let (choice, text) = routes().choose(&msg, " /hr 年假怎么算");
        assert_eq!(choice.name, "hr");
        assert_eq!(choice.model.as_deref(), Some("openclaw/hr"));
        assert_eq!(text, "年假怎么算");
    }

    #[test]
    fn a_keyword_must_be_a_whole_word() {
        let msg = message("2", "员工-1", "/hrm 是什么");
        let (choice, text) = routes().choose(&msg, "/hrm 是什么");
        assert_eq!(choice.name, DEFAULT_ROUTE);
        assert_eq!(choice.model, None);
        assert_eq!(text, "/hrm 是什么");
    }

    #[test]
    fn every_condition_must_hold_and_the_first_match_wins() {
        let dm = message("1", "值班-01", "服务挂了");
        assert_eq!(routes().choose(&dm, "服务挂了").0.name, "oncall-dm");
        let group = message("2", "值班-01", "服务挂了");
        assert_eq!(routes().choose(&group, "服务挂了").0.name, DEFAULT_ROUTE);
        let both = message("1", "值班-01", "/hr 请假");
        assert_eq!(routes().choose(&both, "/hr 请假").0.name, "hr");
    }

    #[test]
    fn a_route_for_another_app_takes_nothing() {
        let other = Routes::new(
            vec![route(
                "other-app",
                RouteMatch {
                    apps: Some(vec!["另一个应用".into()]),
                    ..RouteMatch::default()
                },
                "openclaw/x",
            )],
            vec![("default".into(), "dingapp".into())],
        );
        let msg = message("2", "员工-1", "你好");
        assert_eq!(other.choose(&msg, "你好").0.name, DEFAULT_ROUTE);
    }

    #[test]
    fn match_apps_names_an_app_by_name_or_app_key() {
        let by = |apps: Vec<&str>| {
            Routes::new(
                vec![route(
                    "hr-robot",
                    RouteMatch {
                        apps: Some(apps.into_iter().map(Into::into).collect()),
                        ..RouteMatch::default()
                    },
                    "openclaw/hr",
                )],
                vec![
                    ("it".into(), "ding-it".into()),
                    ("hr".into(), "ding-hr".into()),
                ],
            )
        };
        let mut msg = message("2", "员工-1", "年假");
        for routes in [by(vec!["hr"]), by(vec!["ding-hr"])] {
            msg.app = crate::event::AppId(1);
            assert_eq!(routes.choose(&msg, "年假").0.name, "hr-robot");
            msg.app = crate::event::AppId(0);
            assert_eq!(routes.choose(&msg, "年假").0.name, DEFAULT_ROUTE);
        }
    }
}
