//! What a host holds through its `OcSkill` handle: the running skill plus the ingress rules
//! hosts ask about (HTTP callback checks, the Stream open request). Safe code; `ffi/` only
//! turns pointers into calls of these functions.

use std::path::Path;

use openclaw_skill_abi::{Chunk, OcStatus};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::ingress::{epoch_ms_now, CallbackGate, GateError, Refused};
use crate::manifest::{Manifest, Problem};
use crate::secret::Secret;
use crate::skill::{Skill, SkillError};

/// Reads the manifest at `path` (whose text is `text`): relative paths inside resolve against
/// its directory, and every error names the file as the operator gave it.
pub(crate) fn load_manifest(text: &str, path: &Path) -> Result<Manifest, SkillError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Manifest::load(text, dir).map_err(|e| config_error(path, &e.problems))
}

/// As [`load_manifest`], and also checks what `init` will need from the machine (a writable
/// `state_dir`): everything `openclaw-skill check` should report before a `run`.
pub(crate) fn check_manifest(text: &str, path: &Path) -> Result<Manifest, SkillError> {
    let manifest = load_manifest(text, path)?;
    let problems = manifest.check_environment(text);
    if problems.is_empty() {
        Ok(manifest)
    } else {
        Err(config_error(path, &problems))
    }
}

/// One line per problem, each starting with the file's name as the operator gave it.
fn config_error(path: &Path, problems: &[Problem]) -> SkillError {
    let lines: Vec<String> = problems
        .iter()
        .map(|p| format!("{}: {p}", path.display()))
        .collect();
    SkillError::new(OcStatus::CONFIG, lines.join("\n"))
}

/// A running skill and its ingress rules. Threads: any, concurrently.
pub(crate) struct HostedSkill {
    /// The skill.
    pub skill: Skill,
    gate: CallbackGate,
    /// Each app's name and Stream open body (the first app's first).
    open_bodies: Vec<(String, Secret)>,
}

/// Why an HTTP callback was not taken.
pub(crate) enum CallbackError {
    /// Refused (answer with its status).
    Refused(Refused),
    /// Any other error (bad arguments, shutting down).
    Skill(SkillError),
}

impl From<GateError> for CallbackError {
    fn from(e: GateError) -> CallbackError {
        match e {
            GateError::Refused(r) => CallbackError::Refused(r),
            GateError::BadHeaders(m) => {
                CallbackError::Skill(SkillError::new(OcStatus::INVALID_ARGUMENT, m))
            }
        }
    }
}

impl HostedSkill {
    /// Loads the manifest at `path` and starts the skill.
    pub(crate) fn init(text: &str, path: &Path) -> Result<HostedSkill, SkillError> {
        let manifest = load_manifest(text, path)?;
        let gate = CallbackGate::new(&manifest);
        let open_bodies = manifest
            .apps
            .iter()
            .map(|app| (app.name.clone(), crate::ingress::stream_open_body(app)))
            .collect();
        let skill = Skill::start(manifest)?;
        if let Some(shared) = skill.shared() {
            gate.share(shared);
        }
        Ok(HostedSkill {
            skill,
            gate,
            open_bodies,
        })
    }

    /// The Stream-mode `connections/open` body of the app named `app` (the first app's when
    /// `None`); it carries the app secret. `Err` names the apps there are.
    pub(crate) fn stream_open_body(&self, app: Option<&str>) -> Result<&Secret, SkillError> {
        let found = match app {
            None => self.open_bodies.first(),
            Some(name) => self.open_bodies.iter().find(|(n, _)| n == name),
        };
        found.map(|(_, body)| body).ok_or_else(|| {
            let names: Vec<&str> = self.open_bodies.iter().map(|(n, _)| n.as_str()).collect();
            SkillError::new(
                OcStatus::INVALID_ARGUMENT,
                format!(
                    "no app is named `{}` (apps: {})",
                    app.unwrap_or_default(),
                    names.join(", ")
                ),
            )
        })
    }

    /// Checks an HTTP callback's headers before its body is read.
    pub(crate) fn verify_callback(&self, headers_json: &str) -> Result<(), CallbackError> {
        Ok(self.gate.verify(headers_json, epoch_ms_now())?)
    }

    /// Checks an HTTP callback, claims its signed timestamp and hands its body to the skill;
    /// the claim is kept only when the skill took the event.
    pub(crate) fn handle_callback(
        &self,
        headers_json: &str,
        body: &str,
    ) -> Result<UnboundedReceiver<Chunk>, CallbackError> {
        let (claim, app) = self.gate.claim(headers_json, epoch_ms_now())?;
        let reply = self
            .skill
            .handle_event(body, Some(app))
            .map_err(CallbackError::Skill)?;
        claim.keep();
        Ok(reply)
    }
}
