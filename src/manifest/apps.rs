//! `dingtalk:` and `apps:`: the DingTalk apps (robots) a manifest serves. Loading gathers them
//! into [`Manifest::apps`] (the `dingtalk:` block first, named `default` unless it has a name)
//! and checks each: credentials, robot code, URLs, card settings, rates, and names and robots
//! that tell the apps apart.

use std::collections::HashSet;

use super::model::{DingTalkConfig, DEFAULT_APP_NAME};
use super::{Manifest, Problem};

/// Where an app is written: `dingtalk:` or item `N` of `apps:`.
#[derive(Clone, Copy)]
enum Place {
    Block,
    Item(usize),
}

impl Place {
    /// A problem of `key` of the app written here.
    fn problem(self, text: &str, key: &str, message: impl std::fmt::Display) -> Problem {
        match self {
            Place::Block if key.is_empty() => Problem::at(text, "dingtalk", message),
            Place::Block => Problem::at(text, &format!("dingtalk.{key}"), message),
            Place::Item(i) => Problem::in_item(text, "apps", i, key, message),
        }
    }
}

/// Moves the `dingtalk:` block to the front of `manifest.apps`, fills defaults (name, robot
/// code) and returns every problem of the apps, located in `text`.
pub(super) fn gather(manifest: &mut Manifest, text: &str) -> Vec<Problem> {
    let mut places: Vec<Place> = (0..manifest.apps.len()).map(Place::Item).collect();
    if let Some(mut block) = manifest.dingtalk.take() {
        if block.name.trim().is_empty() {
            block.name = DEFAULT_APP_NAME.to_owned();
        }
        manifest.apps.insert(0, block);
        places.insert(0, Place::Block);
    }
    if manifest.apps.is_empty() {
        return vec![Problem::at(
            text,
            "dingtalk",
            "missing: give the DingTalk app under `dingtalk:` (app_key, app_secret), or several under `apps:`, each with a `name`",
        )];
    }
    let mut problems = Vec::new();
    let mut names = HashSet::new();
    let mut keys = HashSet::new();
    let mut robots = HashSet::new();
    for (app, &place) in manifest.apps.iter_mut().zip(&places) {
        let mut err = |key: &str, message: String| problems.push(place.problem(text, key, message));
        if app.robot_code.trim().is_empty() {
            app.robot_code = app.app_key.clone();
        }
        let name = app.name.trim();
        if name.is_empty() {
            err("name", "is required under `apps:`: a short name such as `hr` or `it-helpdesk` (routes, schedules and `send --app` use it)".into());
        } else if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            err("name", format!("`{name}` may hold only letters, digits, `-` and `_` (it names the app's state directory and session keys)"));
        } else if !names.insert(name.to_owned()) {
            err("name", format!("`{name}` is the name of an earlier app"));
        }
        check_app(app, &mut err);
        if !app.app_key.trim().is_empty() && !keys.insert(app.app_key.clone()) {
            err("app_key", format!("`{}` is the app key of an earlier app: one DingTalk app is one entry (they would share DingTalk's limits while each counted its own)", app.app_key));
        }
        if !app.robot_code.trim().is_empty() && !robots.insert(app.robot_code.clone()) {
            err("robot_code", format!("`{}` is the robot of an earlier app: events are told apart by their robot code", app.robot_code));
        }
    }
    problems
}

/// The checks of one app's own keys.
fn check_app(app: &DingTalkConfig, err: &mut impl FnMut(&str, String)) {
    for (key, value) in [
        ("app_key", app.app_key.as_str()),
        ("app_secret", app.app_secret.expose()),
    ] {
        if value.trim().is_empty() {
            err(key, "must not be empty".into());
        }
    }
    for (key, value) in [
        ("api_base_url", &app.api_base_url),
        ("oapi_base_url", &app.oapi_base_url),
    ] {
        match reqwest::Url::parse(value) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
            _ => err(key, "must be an http:// or https:// URL".into()),
        }
    }
    for (key, value) in [
        ("card_template_id", &app.card_template_id),
        ("card_content_key", &app.card_content_key),
    ] {
        if value.trim().is_empty() {
            err(key, "must not be empty".into());
        }
    }
    let ranges: [(&str, u64, u64, u64); 3] = [
        ("api_qps", u64::from(app.api_qps), 1, 10_000),
        ("app_qps", app.app_qps.map_or(1, u64::from), 1, 100_000),
        (
            "monthly_call_quota",
            app.monthly_call_quota.unwrap_or(1),
            1,
            u64::MAX,
        ),
    ];
    for (key, value, min, max) in ranges {
        if value < min || value > max {
            err(key, format!("{value} is out of range ({min}..={max})"));
        }
    }
}

impl Manifest {
    /// The app named `name`, or the one whose app key is `name`.
    pub fn app(&self, name: &str) -> Option<&DingTalkConfig> {
        self.apps
            .iter()
            .find(|a| a.name == name)
            .or_else(|| self.apps.iter().find(|a| a.app_key == name))
    }

    /// The names of the apps, for an error naming the choices.
    pub fn app_names(&self) -> Vec<&str> {
        self.apps.iter().map(|a| a.name.as_str()).collect()
    }

    /// Whether several apps share this process (session keys and state then name the app).
    pub fn several_apps(&self) -> bool {
        self.apps.len() > 1
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::manifest::{Manifest, ManifestError};

    const HEAD: &str = "name: b\nversion: \"1\"\ngateway:\n  endpoint: http://127.0.0.1:1\n";

    fn load(text: &str) -> Result<Manifest, ManifestError> {
        Manifest::load_with(text, Path::new("/srv"), |_| None)
    }

    #[test]
    fn the_dingtalk_block_is_the_first_app_named_default() {
        let m = load(&format!("{HEAD}dingtalk:\n  app_key: k\n  app_secret: s\n")).unwrap();
        assert_eq!(m.apps.len(), 1);
        assert_eq!(m.apps[0].name, "default");
        assert_eq!(m.apps[0].robot_code, "k");
        assert!(m.dingtalk.is_none());
        assert!(!m.several_apps());
    }

    #[test]
    fn apps_are_listed_in_order_and_found_by_name_or_key() {
        let text = format!("{HEAD}apps:\n  - name: hr\n    app_key: k-hr\n    app_secret: 人事-s\n  - name: it\n    app_key: k-it\n    app_secret: s2\n    api_qps: 5\n");
        let m = load(&text).unwrap();
        assert_eq!(m.app_names(), ["hr", "it"]);
        assert_eq!(m.app("it").unwrap().api_qps, 5);
        assert_eq!(m.app("k-hr").unwrap().name, "hr");
        assert!(m.app("nope").is_none());
        assert!(m.several_apps());
    }

    #[test]
    fn every_app_problem_names_its_item_and_line() {
        let text = format!("{HEAD}apps:\n  - name: hr\n    app_key: k\n    app_secret: s\n  - app_key: k\n    app_secret: \"\"\n    api_qps: 0\n  - name: 人事\n    app_key: k3\n    app_secret: s\n    robot_code: k\n");
        let err = load(&text).unwrap_err().to_string();
        for expected in [
            "apps[1].name (line 9): is required under `apps:`",
            "apps[1].app_secret (line 10): must not be empty",
            "apps[1].api_qps (line 11): 0 is out of range",
            "apps[1].app_key (line 9): `k` is the app key of an earlier app",
            "apps[2].name (line 12): `人事` may hold only letters",
            "apps[2].robot_code (line 15): `k` is the robot of an earlier app",
        ] {
            assert!(err.contains(expected), "{expected} in {err}");
        }
    }

    #[test]
    fn a_manifest_without_any_app_says_how_to_give_one() {
        let err = load(HEAD).unwrap_err().to_string();
        assert!(
            err.contains("dingtalk: missing: give the DingTalk app under `dingtalk:`"),
            "{err}"
        );
    }

    #[test]
    fn the_dingtalk_block_and_apps_together_make_the_block_first() {
        let text = format!("{HEAD}dingtalk:\n  app_key: k\n  app_secret: s\napps:\n  - name: default\n    app_key: k2\n    app_secret: s\n");
        let err = load(&text).unwrap_err().to_string();
        assert!(
            err.contains("apps[0].name (line 9): `default` is the name of an earlier app"),
            "{err}"
        );
    }
}
