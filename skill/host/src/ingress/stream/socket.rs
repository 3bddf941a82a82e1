//! Dialing the Stream WebSocket: which endpoints are acceptable, then DNS and TCP (or a tunnel
//! through the proxy `HTTPS_PROXY` names, `proxy.rs`), TLS and the WebSocket handshake within one
//! deadline, each failure saying which step failed.

use std::time::Duration;
use tokio_tungstenite::Connector;

use reqwest::Url;
use tokio::time::Instant;

use crate::neterr;

/// Deadline for the WebSocket connect (DNS, TCP, TLS and WebSocket handshakes together).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A Stream WebSocket (client side).
pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Whether `url` is a test URL on this machine (`127.0.0.0/8`, `[::1]` or `localhost`), where
/// the emulator may hand out a plain `ws://` Stream endpoint.
pub fn is_loopback_test_url(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// The Stream endpoint must be `wss://` (DingTalk's is); plain `ws://` only for a loopback test
/// setup. Anything else would send the ticket (and every message) unencrypted, or nowhere
/// sensible.
pub fn check_endpoint(endpoint: &Url, plain_ws_allowed: bool) -> Result<(), String> {
    match endpoint.scheme() {
        "wss" => Ok(()),
        "ws" if plain_ws_allowed => Ok(()),
        scheme => Err(format!(
            "connections/open returned the Stream endpoint {scheme}://{}, which is not wss://: \
             refusing to connect (plain ws:// is accepted only when dingtalk.api_base_url is a \
             loopback test URL)",
            endpoint.host_str().unwrap_or("?")
        )),
    }
}

/// DNS, TCP, then the TLS and WebSocket handshakes, within [`HANDSHAKE_TIMEOUT`]; each failure
/// says which step failed and why (the ticket in `url` is never shown).
/// `connector` is the TLS connector to use (`None`: the system's roots).
pub async fn open_socket(url: &Url, connector: Option<Connector>) -> Result<Ws, String> {
    let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
    let late = |step: String| {
        format!(
            "{step} did not finish within {} ms (the WebSocket connect deadline)",
            HANDSHAKE_TIMEOUT.as_millis()
        )
    };
    let port = url
        .port_or_known_default()
        .ok_or_else(|| format!("no port for scheme {}", url.scheme()))?;
    if let Some(proxy) = super::proxy::from_env(url) {
        let host = url.host_str().ok_or("the endpoint has no host")?;
        let socket = tokio::time::timeout_at(deadline, super::proxy::tunnel(&proxy, host, port))
            .await
            .map_err(|_| late(format!("the proxy tunnel to {}", neterr::target(url))))??;
        return handshake(url, socket, connector, deadline, late).await;
    }
    let addrs: Vec<std::net::SocketAddr> = match url.host() {
        Some(url::Host::Ipv4(ip)) => vec![(ip, port).into()],
        Some(url::Host::Ipv6(ip)) => vec![(ip, port).into()],
        Some(url::Host::Domain(name)) => {
            tokio::time::timeout_at(deadline, tokio::net::lookup_host((name, port)))
                .await
                .map_err(|_| late(format!("the DNS lookup of {name}")))?
                .map_err(|e| neterr::dns(name, &e))?
                .collect()
        }
        None => return Err("the endpoint has no host".into()),
    };
    let mut failures = Vec::new();
    let mut socket = None;
    for addr in addrs {
        match tokio::time::timeout_at(deadline, tokio::net::TcpStream::connect(addr)).await {
            Err(_) => return Err(late(format!("the TCP connect to {addr}"))),
            Ok(Ok(s)) => {
                socket = Some(s);
                break;
            }
            Ok(Err(e)) => failures.push(neterr::tcp(&addr, &e)),
        }
    }
    let Some(socket) = socket else {
        return Err(if failures.is_empty() {
            format!("{} resolved to no address", neterr::target(url))
        } else {
            failures.join("; ")
        });
    };
    handshake(url, socket, connector, deadline, late).await
}

/// TLS (for `wss://`) and the WebSocket handshake over an open socket, by `deadline`.
async fn handshake(
    url: &Url,
    socket: tokio::net::TcpStream,
    connector: Option<Connector>,
    deadline: Instant,
    late: impl Fn(String) -> String,
) -> Result<Ws, String> {
    let handshake =
        tokio_tungstenite::client_async_tls_with_config(url.as_str(), socket, None, connector);
    let (ws, _) = tokio::time::timeout_at(deadline, handshake)
        .await
        .map_err(|_| late(format!("the handshake with {}", neterr::target(url))))?
        .map_err(|e| neterr::ws_handshake(url, &e))?;
    Ok(ws)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn loopback_test_urls() {
        for base in [
            "http://127.0.0.1:8080/v1.0/gateway/connections/open",
            "http://127.1.2.3:1/",
            "https://localhost/x",
            "http://[::1]:9/",
        ] {
            assert!(is_loopback_test_url(&url(base)), "{base}");
        }
        for base in [
            "https://api.dingtalk.com/v1.0/gateway/connections/open",
            "http://10.0.0.1/",
            "http://localhost.example.com/",
            "http://[::2]/",
        ] {
            assert!(!is_loopback_test_url(&url(base)), "{base}");
        }
    }

    #[test]
    fn the_stream_endpoint_must_be_wss_unless_testing_on_loopback() {
        let wss = url("wss://wss-open-connection.dingtalk.com:443/connect");
        assert_eq!(check_endpoint(&wss, false), Ok(()));
        assert_eq!(check_endpoint(&wss, true), Ok(()));
        let ws = url("ws://evil.example.com/connect");
        let refused = check_endpoint(&ws, false).unwrap_err();
        assert!(
            refused.starts_with(
                "connections/open returned the Stream endpoint ws://evil.example.com, which is not wss://: refusing to connect"
            ),
            "{refused}"
        );
        assert_eq!(
            check_endpoint(&url("ws://127.0.0.1:5/connect"), true),
            Ok(())
        );
        let http = check_endpoint(&url("http://127.0.0.1:5/"), true).unwrap_err();
        assert!(http.contains("endpoint http://127.0.0.1"), "{http}");
    }

    #[tokio::test]
    async fn a_refused_websocket_names_the_address() {
        let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = dead.local_addr().unwrap().port();
        drop(dead);
        let Err(e) = open_socket(
            &url(&format!("ws://127.0.0.1:{port}/connect?ticket=T0P")),
            None,
        )
        .await
        else {
            panic!("connected to a closed port")
        };
        assert!(
            e.starts_with(&format!("connection refused by 127.0.0.1:{port}: ")),
            "{e}"
        );
        assert!(!e.contains("T0P"), "the ticket is never shown: {e}");
    }
}
