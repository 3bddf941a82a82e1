//! Checks of `routes:`: each rule well-formed, and none that can never match (an empty list,
//! an app that is not this manifest's, or an earlier rule that takes every message it would).

use std::collections::HashSet;

#[cfg(test)]
use super::model::RouteConfig;
use super::model::RouteMatch;
use super::{valid_model, Manifest, Problem};

/// Every problem of the manifest's routes, located in `text`.
pub(super) fn problems(manifest: &Manifest, text: &str) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut names = HashSet::new();
    for (i, route) in manifest.routes.iter().enumerate() {
        let mut err = |key: &str, message: String| {
            out.push(Problem::in_item(text, "routes", i, key, message))
        };
        let name = route.name.trim();
        if name.is_empty() {
            err("name", "must not be empty".into());
        } else if !names.insert(name) {
            err("name", format!("`{name}` is the name of an earlier route"));
        }
        if let Some(model) = &route.model {
            if !valid_model(model) {
                err("model", "must name an OpenClaw agent target: `openclaw`, `openclaw/<agentId>` or `agent:<agentId>`".into());
            }
        }
        let when = &route.when;
        if let Some(keyword) = &when.keyword {
            if keyword.is_empty() || keyword.contains(char::is_whitespace) {
                err(
                    "match.keyword",
                    format!("`{keyword}` must be one word without spaces, e.g. `/hr`"),
                );
            }
        }
        for (key, list) in [
            ("match.apps", &when.apps),
            ("match.conversations", &when.conversations),
            ("match.senders", &when.senders),
        ] {
            if list.as_ref().is_some_and(Vec::is_empty) {
                err(
                    key,
                    "is an empty list, so the route can never match: list at least one, or leave the key out".into(),
                );
            }
        }
        if let Some(apps) = &when.apps {
            for app in apps.iter().filter(|a| manifest.app(a).is_none()) {
                err(
                    "match.apps",
                    format!("`{app}` is no app of this manifest (apps: {}), so the route can never match it", manifest.app_names().join(", ")),
                );
            }
        }
        if let Some((j, earlier)) = manifest.routes[..i]
            .iter()
            .enumerate()
            .find(|(_, r)| covers(&r.when, when))
        {
            err(
                "",
                format!(
                    "route `{}` can never match: routes[{j}] (`{}`) comes first and takes every message it would; put the narrower route first",
                    route.name, earlier.name
                ),
            );
        }
    }
    out
}

/// Whether every message `b` matches is matched by `a`.
fn covers(a: &RouteMatch, b: &RouteMatch) -> bool {
    let list = |a: &Option<Vec<String>>, b: &Option<Vec<String>>| match (a, b) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(a), Some(b)) => b.iter().all(|x| a.contains(x)),
    };
    let keyword = a.keyword.is_none() || a.keyword == b.keyword;
    let chat = a.chat.is_none() || a.chat == b.chat;
    keyword
        && chat
        && list(&a.apps, &b.apps)
        && list(&a.conversations, &b.conversations)
        && list(&a.senders, &b.senders)
}

/// The routes as configured (for tests of `covers` with the manifest types).
#[cfg(test)]
fn route(name: &str, when: RouteMatch) -> RouteConfig {
    RouteConfig {
        name: name.into(),
        when,
        model: None,
        preamble: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::ChatKind;

    #[test]
    fn a_catch_all_covers_everything_and_a_keyword_only_itself() {
        let all = route("all", RouteMatch::default());
        let hr = route(
            "hr",
            RouteMatch {
                keyword: Some("/hr".into()),
                ..RouteMatch::default()
            },
        );
        let hr_groups = route(
            "hr-groups",
            RouteMatch {
                keyword: Some("/hr".into()),
                chat: Some(ChatKind::Group),
                ..RouteMatch::default()
            },
        );
        assert!(covers(&all.when, &hr.when));
        assert!(covers(&hr.when, &hr_groups.when));
        assert!(!covers(&hr_groups.when, &hr.when));
        assert!(!covers(&hr.when, &all.when));
    }

    #[test]
    fn a_list_covers_its_subsets_only() {
        let two = RouteMatch {
            conversations: Some(vec!["cid-一".into(), "cid-二".into()]),
            ..RouteMatch::default()
        };
        let one = RouteMatch {
            conversations: Some(vec!["cid-二".into()]),
            ..RouteMatch::default()
        };
        assert!(covers(&two, &one));
        assert!(!covers(&one, &two));
    }
}
