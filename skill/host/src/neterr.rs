//! Network errors an operator can act on: what failed (DNS with the name, connection refused
//! with the address, TLS, which deadline) first, then the whole cause chain. URLs in them have
//! their userinfo redacted.

use std::error::Error;
use std::io;
use std::time::Duration;

use reqwest::Url;

use crate::redact;

/// The messages of an error and its sources, outermost first, joined by `": "` (a message that
/// merely repeats the next one is left out).
pub fn chain(error: &(dyn Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cause = Some(error);
    while let Some(e) = cause {
        let text = e.to_string();
        if !text.is_empty() && parts.last() != Some(&text) {
            // Some errors print their source inside their own message: keep the longer one.
            match parts.last_mut() {
                Some(last) if last.ends_with(&text) => {}
                _ => parts.push(text),
            }
        }
        cause = e.source();
    }
    redact::urls(&parts.join(": ")).into_owned()
}

/// `host:port` of a URL (the default port when it has none).
pub fn target(url: &Url) -> String {
    let host = url.host_str().unwrap_or("?");
    match url.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// The first `io::Error` among an error and its sources.
fn io_error<'a>(error: &'a (dyn Error + 'static)) -> Option<&'a io::Error> {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            return Some(io);
        }
        cause = e.source();
    }
    None
}

/// Whether an error chain reads like a TLS failure (rustls's messages: certificate problems,
/// alerts, a peer that does not speak TLS; as an `io::Error` they are `InvalidData`).
fn looks_like_tls(error: &(dyn Error + 'static), causes: &str) -> bool {
    let lower = causes.to_ascii_lowercase();
    [
        "certificate",
        "tls",
        "alert",
        "corrupt message",
        "peer is incompatible",
        "peer misbehaved",
        "handshake",
    ]
    .iter()
    .any(|word| lower.contains(word))
        || io_error(error).is_some_and(|e| e.kind() == io::ErrorKind::InvalidData)
}

/// A failed HTTP request (`what`, e.g. `connections/open`, to `url` with a `deadline`).
pub fn http_request(what: &str, url: &Url, error: reqwest::Error, deadline: Duration) -> String {
    let is_timeout = error.is_timeout();
    let is_connect = error.is_connect();
    let error = error.without_url();
    let causes = chain(&error);
    let target = target(url);
    let host = url.host_str().unwrap_or("?");
    let summary = if is_timeout {
        format!(
            "no answer from {target} within {} ms ({what} deadline)",
            deadline.as_millis()
        )
    } else if io_error(&error).is_some_and(|e| e.kind() == io::ErrorKind::ConnectionRefused) {
        format!("connection refused by {target}")
    } else if causes.contains("dns error") {
        format!("cannot resolve {host} (DNS)")
    } else if is_connect && looks_like_tls(&error, &causes) {
        format!("TLS handshake with {target} failed")
    } else if is_connect {
        format!("cannot connect to {target}")
    } else {
        "request failed".to_owned()
    };
    format!(
        "{what} (POST {}): {summary}: {causes}",
        redact::url(url.as_str())
    )
}

/// A failed DNS lookup of `host`.
pub fn dns(host: &str, error: &io::Error) -> String {
    format!("cannot resolve {host} (DNS): {}", chain(error))
}

/// A failed TCP connect to `addr`.
pub fn tcp(addr: &std::net::SocketAddr, error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::ConnectionRefused => {
            format!("connection refused by {addr}: {}", chain(error))
        }
        _ => format!("cannot connect to {addr}: {}", chain(error)),
    }
}

/// A failed TLS or WebSocket handshake with `url`.
pub fn ws_handshake(url: &Url, error: &tokio_tungstenite::tungstenite::Error) -> String {
    use tokio_tungstenite::tungstenite::Error as WsError;
    let target = target(url);
    let causes = chain(error);
    match error {
        WsError::Tls(_) => format!("TLS handshake with {target} failed: {causes}"),
        WsError::Io(_) if url.scheme() == "wss" && looks_like_tls(error, &causes) => {
            format!("TLS handshake with {target} failed: {causes}")
        }
        WsError::Http(response) => format!(
            "WebSocket upgrade refused by {target}: HTTP {}",
            response.status()
        ),
        _ => format!("WebSocket handshake with {target} failed: {causes}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrap(&'static str, Option<io::Error>);
    impl std::fmt::Display for Wrap {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl Error for Wrap {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_ref().map(|e| e as _)
        }
    }

    #[test]
    fn the_chain_names_every_cause_once() {
        let e = Wrap(
            "tcp connect error",
            Some(io::Error::new(io::ErrorKind::ConnectionRefused, "refused")),
        );
        assert_eq!(chain(&e), "tcp connect error: refused");
        let e = Wrap("https://u:p@h/x failed", None);
        assert_eq!(chain(&e), "https://***@h/x failed");
    }

    #[test]
    fn tcp_and_dns_messages_name_the_address_and_the_name() {
        let addr: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert!(tcp(&addr, &refused).starts_with("connection refused by 127.0.0.1:9: "));
        let other = io::Error::from(io::ErrorKind::PermissionDenied);
        assert!(tcp(&addr, &other).starts_with("cannot connect to 127.0.0.1:9: "));
        let dns_error = io::Error::other("failed to lookup address information");
        assert_eq!(
            dns("nowhere.invalid", &dns_error),
            "cannot resolve nowhere.invalid (DNS): failed to lookup address information"
        );
    }

    #[tokio::test]
    async fn a_refused_request_says_so_with_the_address() {
        let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = dead.local_addr().unwrap().port();
        drop(dead);
        let url = Url::parse(&format!("http://user:pw@127.0.0.1:{port}/v1.0/x")).unwrap();
        let error = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .post(url.clone())
            .send()
            .await
            .unwrap_err();
        let text = http_request("connections/open", &url, error, Duration::from_secs(10));
        assert!(
            text.starts_with(&format!(
                "connections/open (POST http://***@127.0.0.1:{port}/v1.0/x): connection refused by 127.0.0.1:{port}: "
            )),
            "{text}"
        );
        assert!(!text.contains("pw"), "{text}");
    }
}
