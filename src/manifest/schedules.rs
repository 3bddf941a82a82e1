//! Checks of `schedules:`: a unique name, a cron pattern and time zone that parse, somewhere
//! to post, a prompt, a route and an app that exist, and a collecting schedule's tag and groups.

use std::collections::HashSet;

use super::{Manifest, Problem};
use crate::schedule::when::{When, WhenError};

/// The longest catch-up window (`catch_up_secs`): a day.
const MAX_CATCH_UP_SECS: u64 = 86_400;

/// Every problem of the manifest's schedules, located in `text`.
pub(super) fn problems(manifest: &Manifest, text: &str) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut names = HashSet::new();
    let routes: HashSet<&str> = std::iter::once(crate::conversation::DEFAULT_ROUTE)
        .chain(manifest.routes.iter().map(|r| r.name.as_str()))
        .collect();
    for (i, s) in manifest.schedules.iter().enumerate() {
        let mut err = |key: &str, message: String| {
            out.push(Problem::in_item(text, "schedules", i, key, message))
        };
        let name = s.name.trim();
        if name.is_empty() {
            err("name", "must not be empty".into());
        } else if !names.insert(name) {
            err(
                "name",
                format!("`{name}` is the name of an earlier schedule"),
            );
        }
        // The pattern and the zone are checked apart, so both are reported.
        if let Err(e @ WhenError::Cron(_)) = When::parse(&s.cron, "UTC") {
            err("cron", format!("`{}` {e}", s.cron));
        }
        if let Err(e @ WhenError::TimeZone) = When::parse("0 0 * * *", &s.time_zone) {
            err("time_zone", format!("`{}` {e}", s.time_zone));
        }
        if s.groups.is_empty() && s.users.is_empty() {
            err(
                "",
                format!(
                    "schedule `{}` posts nowhere: list `groups` (cid…) or `users` (staff ids)",
                    s.name
                ),
            );
        }
        if s.prompt.trim().is_empty() {
            err("prompt", "must not be empty".into());
        }
        if let Some(route) = &s.route {
            if !routes.contains(route.as_str()) {
                let mut known: Vec<&str> = routes.iter().copied().collect();
                known.sort_unstable();
                err(
                    "route",
                    format!("no route is named `{route}` (routes: {})", known.join(", ")),
                );
            }
        }
        match &s.app {
            None if manifest.several_apps() => err(
                "app",
                format!(
                    "is required with several apps: name the app whose robot posts (apps: {})",
                    manifest.app_names().join(", ")
                ),
            ),
            Some(app) if manifest.app(app).is_none() => err(
                "app",
                format!(
                    "`{app}` is no app of this manifest (apps: {})",
                    manifest.app_names().join(", ")
                ),
            ),
            _ => {}
        }
        if s.catch_up_secs > MAX_CATCH_UP_SECS {
            err(
                "catch_up_secs",
                format!(
                    "{} is out of range (0..={MAX_CATCH_UP_SECS})",
                    s.catch_up_secs
                ),
            );
        }
        if let Some(collect) = &s.collect {
            if collect.tag.trim().is_empty() || collect.tag.contains(char::is_whitespace) {
                err(
                    "collect.tag",
                    format!(
                        "`{}` must be one word without spaces, e.g. `#standup`",
                        collect.tag
                    ),
                );
            }
            if s.groups.is_empty() || !s.users.is_empty() {
                err(
                    "collect",
                    "collects the messages of its groups: list `groups` and no `users`".into(),
                );
            }
            if collect.max_messages == 0 || collect.max_messages > 10_000 {
                err(
                    "collect.max_messages",
                    format!("{} is out of range (1..=10000)", collect.max_messages),
                );
            }
        }
    }
    out
}
