//! Shared by the binaries: print the listening line, then wait for SIGINT/SIGTERM.
#![deny(unsafe_code)]

use std::io::Write;

/// Prints exactly `listening <url>` as the first stdout line and flushes it.
pub fn announce(url: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening {url}");
    let _ = out.flush();
}

/// Resolves on SIGINT or SIGTERM (Ctrl-C only on non-Unix systems).
pub async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
