//! Finding the plugin library (the search order of docs/deploy.md), loading it, and starting a
//! skill from it.
//!
//! The search order, first match wins:
//! 1. `--library PATH`;
//! 2. the manifest's `library:` key (relative to the manifest);
//! 3. `libopenclaw_dingtalk.so` next to the manifest;
//! 4. `$OPENCLAW_DINGTALK_LIBRARY`;
//! 5. the install prefix: `<dir of openclaw-skill>/../lib/openclaw-dingtalk/libopenclaw_dingtalk.so`
//!    (`/usr/local/bin` → `/usr/local/lib/openclaw-dingtalk/`, `~/.cargo/bin` →
//!    `~/.cargo/lib/openclaw-dingtalk/`);
//! 6. next to `openclaw-skill` itself (a cargo build: `target/release/`).
//!
//! 1 and 2 are explicit: when given, nothing else is tried. `demo` has no manifest of its own,
//! so it skips 2 and 3.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;
use openclaw_skill_abi::{Plugin, Skill};

use crate::host_manifest::ManifestFile;

/// The environment variable naming the plugin library (step 4 of the search order).
pub const LIBRARY_ENV: &str = "OPENCLAW_DINGTALK_LIBRARY";

/// The plugin library's install directory, relative to the prefix (`/usr/local`).
pub const PREFIX_LIB_DIR: &str = "lib/openclaw-dingtalk";

/// Where the library was found, and which step of the search order found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The library file.
    pub path: PathBuf,
    /// The step, in words (`next to the manifest`, …).
    pub how: String,
}

/// One place looked at.
struct Candidate {
    path: Option<PathBuf>,
    how: String,
}

/// What the search looks at besides the files themselves: the environment variable's value
/// and where this executable is. Separate so tests can give their own.
pub struct Context {
    /// `$OPENCLAW_DINGTALK_LIBRARY`, if set and not empty.
    pub env: Option<PathBuf>,
    /// This executable (its real path).
    pub exe: Option<PathBuf>,
}

impl Context {
    /// This process's.
    pub fn current() -> Context {
        Context {
            env: std::env::var_os(LIBRARY_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            exe: std::env::current_exe().ok(),
        }
    }
}

/// Finds the plugin library: `flag` (`--library`), else the search order above (`manifest`
/// is `None` for `demo`). The error lists every place looked at and how to install the
/// library.
pub fn locate(flag: Option<&Path>, manifest: Option<&ManifestFile>) -> Result<Located> {
    locate_in(flag, manifest, &Context::current())
}

/// [`locate`] with the environment given.
pub fn locate_in(
    flag: Option<&Path>,
    manifest: Option<&ManifestFile>,
    context: &Context,
) -> Result<Located> {
    let name = Plugin::library_file_name();
    if let Some(path) = flag {
        anyhow::ensure!(
            path.is_file(),
            "--library {}: no such file (build the plugin with `cargo build --release`: it is \
             target/release/{name})",
            path.display()
        );
        return Ok(Located {
            path: path.to_path_buf(),
            how: "--library".into(),
        });
    }
    if let Some(manifest) = manifest {
        if let Some(path) = manifest.library_key()? {
            anyhow::ensure!(
                path.is_file(),
                "{}: library: {} does not exist (the key is relative to the manifest's directory)",
                manifest.path.display(),
                path.display()
            );
            return Ok(Located {
                path,
                how: "the manifest's `library` key".into(),
            });
        }
    }
    let mut candidates = Vec::new();
    if let Some(manifest) = manifest {
        candidates.push(Candidate {
            path: Some(manifest.dir.join(&name)),
            how: "next to the manifest".into(),
        });
    }
    candidates.push(Candidate {
        path: context.env.clone(),
        how: format!("${LIBRARY_ENV}"),
    });
    let exe_dir = context.exe.as_deref().and_then(Path::parent);
    if let Some(bin) = exe_dir {
        candidates.push(Candidate {
            path: bin
                .parent()
                .map(|prefix| prefix.join(PREFIX_LIB_DIR).join(&name)),
            how: format!("the install prefix of {}", bin.display()),
        });
        candidates.push(Candidate {
            path: Some(bin.join(&name)),
            how: "next to openclaw-skill: a cargo build".into(),
        });
    }
    if let Some(found) = candidates
        .iter()
        .find(|c| c.path.as_deref().is_some_and(Path::is_file))
    {
        if let Some(env) = &context.env {
            if !env.is_file() {
                log::warn!(
                    "${LIBRARY_ENV}={} does not exist; using {}",
                    env.display(),
                    found.path.as_deref().unwrap_or(Path::new("?")).display()
                );
            }
        }
        return Ok(Located {
            path: found.path.clone().unwrap_or_default(),
            how: found.how.clone(),
        });
    }
    let looked: Vec<String> = candidates
        .iter()
        .map(|c| match &c.path {
            Some(path) => format!("\n  {} ({})", path.display(), c.how),
            None => format!("\n  {} (not set)", c.how),
        })
        .collect();
    let prefix_dir = exe_dir
        .and_then(Path::parent)
        .map(|p| p.join(PREFIX_LIB_DIR))
        .unwrap_or_else(|| Path::new("/usr/local").join(PREFIX_LIB_DIR));
    anyhow::bail!(
        "the plugin library {name} was not found; looked at:{}\n\
         Build it with `cargo build --release -p openclaw-dingtalk` and install it with \
         `install -D -m 0644 target/release/{name} {}/{name}`, or put it next to the manifest, \
         set {LIBRARY_ENV}=PATH, or pass --library PATH (docs/deploy.md)",
        looked.concat(),
        prefix_dir.display()
    )
}

/// Loads the plugin library at `library`.
pub fn load(library: &Located) -> Result<Plugin> {
    let plugin = Plugin::load_from_file(&library.path).map_err(|e| {
        log::debug!("plugin loader report:\n{}", e.details);
        anyhow::anyhow!("{e}")
    })?;
    openclaw_skill_abi::forward_logs(plugin).map_err(|e| anyhow::anyhow!("{}", e.message))?;
    Ok(plugin)
}

/// Loads the plugin at `library` and initialises a skill with the manifest; the plugin's log
/// records go to this process's logger. The skill is shared by the ingress tasks and followers
/// (`Skill` is `Send + Sync`).
pub fn start_skill(manifest: &ManifestFile, library: &Located) -> Result<Arc<Skill>> {
    let plugin = load(library)?;
    log::info!(
        "loaded plugin {} {} (skill ABI v{}) from {} ({})",
        plugin.name(),
        plugin.version(),
        plugin.abi_version(),
        library.path.display(),
        library.how
    );
    let skill = plugin
        .init(&manifest.text, &manifest.path)
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    Ok(Arc::new(skill))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch directory (canonical path), removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir = std::env::temp_dir().join(format!(
                "openclaw-skill-locate-{name}-{}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir.canonicalize().unwrap())
        }

        fn file(&self, rel: &str) -> PathBuf {
            let path = self.0.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, b"").unwrap();
            path
        }

        fn manifest(&self, rel: &str, text: &str) -> ManifestFile {
            let path = self.0.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
            ManifestFile::read(&path).unwrap()
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn name() -> String {
        Plugin::library_file_name()
    }

    #[test]
    fn the_search_order_is_followed_step_by_step() {
        let s = Scratch::new("order");
        let exe = s.0.join("prefix/bin/openclaw-skill");
        let manifest = s.manifest("etc/openclaw-skill.yaml", "name: 钉钉机器人\n");
        let env_lib = s.0.join("elsewhere").join(name());
        let context = Context {
            env: Some(env_lib.clone()),
            exe: Some(exe.clone()),
        };
        let found = |m: Option<&ManifestFile>| locate_in(None, m, &context);

        // Nothing there: every place is listed, in order.
        let err = format!("{:#}", found(Some(&manifest)).unwrap_err());
        let places = [
            s.0.join("etc").join(name()),
            env_lib.clone(),
            s.0.join("prefix/lib/openclaw-dingtalk").join(name()),
            s.0.join("prefix/bin").join(name()),
        ];
        let mut at = 0;
        for place in &places {
            let shown = place.display().to_string();
            let i = err[at..]
                .find(&shown)
                .unwrap_or_else(|| panic!("{shown} not listed in order:\n{err}"));
            at += i + shown.len();
        }
        assert!(err.contains("install -D -m 0644"), "{err}");

        // Each step, from the last to the first, takes over when its file appears.
        let next_to_exe = s.file(&format!("prefix/bin/{}", name()));
        assert_eq!(found(Some(&manifest)).unwrap().path, next_to_exe);
        let prefix = s.file(&format!("prefix/lib/openclaw-dingtalk/{}", name()));
        let located = found(Some(&manifest)).unwrap();
        assert_eq!(located.path, prefix);
        assert!(located.how.contains("install prefix"), "{}", located.how);
        let env = s.file(&format!("elsewhere/{}", name()));
        assert_eq!(found(Some(&manifest)).unwrap().path, env);
        let next_to_manifest = s.file(&format!("etc/{}", name()));
        assert_eq!(found(Some(&manifest)).unwrap().path, next_to_manifest);
        // demo: no manifest, so the step next to it is skipped.
        assert_eq!(found(None).unwrap().path, env);

        // The manifest's key, relative to the manifest, wins over the search ...
        let keyed = s.file("etc/lib/custom.so");
        let with_key = s.manifest("etc/openclaw-skill.yaml", "library: lib/custom.so\n");
        let located = found(Some(&with_key)).unwrap();
        assert_eq!(located.path, keyed);
        // ... and --library over everything.
        let flag = s.file("flag.so");
        assert_eq!(
            locate_in(Some(&flag), Some(&with_key), &context)
                .unwrap()
                .path,
            flag
        );
    }

    #[test]
    fn explicit_choices_are_not_replaced_by_a_search() {
        let s = Scratch::new("explicit");
        s.file(&format!("etc/{}", name()));
        let context = Context {
            env: None,
            exe: None,
        };
        let err = locate_in(Some(&s.0.join("missing.so")), None, &context).unwrap_err();
        assert!(err.to_string().starts_with("--library "), "{err}");
        let manifest = s.manifest("etc/openclaw-skill.yaml", "library: missing.so\n");
        let err = locate_in(None, Some(&manifest), &context).unwrap_err();
        assert!(err.to_string().contains("library: "), "{err}");
        assert!(
            err.to_string().contains("missing.so does not exist"),
            "{err}"
        );
    }

    #[test]
    fn a_variable_in_the_library_key_points_at_the_environment_variable() {
        let s = Scratch::new("variable");
        let manifest = s.manifest(
            "openclaw-skill.yaml",
            "name: x\nlibrary: \"${PLUGIN_DIR}/libopenclaw_dingtalk.so\"\n",
        );
        let err = locate_in(
            None,
            Some(&manifest),
            &Context {
                env: None,
                exe: None,
            },
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("library (line 2)"), "{err}");
        assert!(err.contains(LIBRARY_ENV), "{err}");
    }
}
