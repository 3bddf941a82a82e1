//! HTTP/1.1 server plumbing shared by the DingTalk emulator and the fake gateway.
//!
//! A hand-rolled accept loop (instead of `axum::serve`) so that header names go out in Title-Case like the
//! Node and Alibaba servers being imitated, and so that dropping the server aborts every connection task.

use std::{io, net::SocketAddr, time::Duration};

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::{rt::TokioIo, service::TowerToHyperService};
use tokio::{
    net::TcpListener,
    task::{JoinHandle, JoinSet},
};

/// A running server; dropping it stops accepting and aborts all open connections.
#[derive(Debug)]
pub(crate) struct HttpServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl HttpServer {
    /// Binds `addr` (which must be a loopback address) and serves `router` on it.
    pub(crate) async fn bind(addr: SocketAddr, router: Router) -> io::Result<Self> {
        let listener = bind_loopback(addr).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(accept_loop(listener, router));
        Ok(Self { addr, task })
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds a TCP listener, refusing anything but a loopback address.
pub(crate) async fn bind_loopback(addr: SocketAddr) -> io::Result<TcpListener> {
    if !addr.ip().is_loopback() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("refusing to bind {addr}: only loopback addresses are allowed"),
        ));
    }
    TcpListener::bind(addr).await
}

async fn accept_loop(listener: TcpListener, router: Router) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let service = TowerToHyperService::new(router.clone());
                    connections.spawn(async move {
                        let conn = http1::Builder::new()
                            .title_case_headers(true)
                            .serve_connection(TokioIo::new(stream), service)
                            // Stream mode's WebSocket (`/connect`) upgrades the connection.
                            .with_upgrades();
                        if let Err(e) = conn.await {
                            log::debug!("connection ended with an error: {e}");
                        }
                    });
                }
                Err(e) => {
                    // E.g. EMFILE: back off briefly instead of spinning.
                    log::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}
