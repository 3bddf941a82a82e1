//! The plugin's own tokio runtime. The plugin never uses the host's runtime (each `.so` has
//! its own copy of tokio's thread-locals, so the host's would not even be visible).

use std::sync::OnceLock;

use tokio::runtime::{Builder, Runtime};

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The plugin-wide multi-thread runtime (2 workers), created on first use and kept for the
/// life of the process (the library is never unloaded).
pub fn runtime() -> &'static Runtime {
    RUNTIME.get_or_init(|| {
        Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("openclaw-dingtalk")
            .enable_all()
            .build()
            .expect("the plugin cannot start its tokio runtime")
    })
}
