//! The process's async environment: the host's tokio runtime and its shutdown signals.

use anyhow::Result;

/// The host's tokio runtime (ingress, followers; `demo` also runs its peers on it).
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// Resolves on SIGINT or SIGTERM (never, when the SIGTERM handler cannot be installed).
pub async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
