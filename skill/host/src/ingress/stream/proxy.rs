//! The Stream WebSocket through an HTTP proxy: `HTTPS_PROXY` (for `wss://`) or `HTTP_PROXY` (for
//! `ws://`), unless `NO_PROXY` names the host (or it is this machine), as curl and reqwest read
//! them. The socket is an
//! HTTP `CONNECT` tunnel; TLS and the WebSocket handshake then run through it to DingTalk.

use reqwest::Url;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest proxy answer head read.
const MAX_HEAD: usize = 8 * 1024;

/// The proxy to use for `url`, from the process environment.
pub fn from_env(url: &Url) -> Option<Url> {
    let var = |name: &str| {
        std::env::var(name)
            .or_else(|_| std::env::var(name.to_ascii_lowercase()))
            .ok()
    };
    let proxy = match url.scheme() {
        "wss" => var("HTTPS_PROXY"),
        _ => var("HTTP_PROXY"),
    };
    select(url, proxy.as_deref(), var("NO_PROXY").as_deref())
}

/// The proxy for `url` given the values of the proxy and `NO_PROXY` variables.
fn select(url: &Url, proxy: Option<&str>, no_proxy: Option<&str>) -> Option<Url> {
    let proxy = proxy.map(str::trim).filter(|p| !p.is_empty())?;
    if super::socket::is_loopback_test_url(url) {
        return None; // this machine is never reached through a proxy
    }
    let host = url
        .host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']');
    let bypassed = no_proxy
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .any(|entry| {
            let entry = entry.trim_start_matches('.');
            entry == "*"
                || (!entry.is_empty()
                    && (host.eq_ignore_ascii_case(entry)
                        || host
                            .to_ascii_lowercase()
                            .ends_with(&format!(".{}", entry.to_ascii_lowercase()))))
        });
    if bypassed {
        return None;
    }
    let with_scheme = if proxy.contains("://") {
        proxy.to_owned()
    } else {
        format!("http://{proxy}")
    };
    Url::parse(&with_scheme).ok()
}

/// Opens a `CONNECT host:port` tunnel through `proxy`. Errors name the proxy (without its
/// credentials) and what it answered.
pub async fn tunnel(proxy: &Url, host: &str, port: u16) -> Result<TcpStream, String> {
    let proxy_host = proxy.host_str().ok_or("the proxy URL has no host")?;
    let proxy_port = proxy.port_or_known_default().unwrap_or(3128);
    let shown = format!("proxy {proxy_host}:{proxy_port}");
    let mut socket = TcpStream::connect((proxy_host, proxy_port))
        .await
        .map_err(|e| format!("{shown}: {e}"))?;
    let mut request = format!("CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n");
    if !proxy.username().is_empty() {
        use base64::Engine;
        let user = percent_decode(proxy.username());
        let password = percent_decode(proxy.password().unwrap_or(""));
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        request.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
    }
    request.push_str("\r\n");
    socket
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("{shown}: {e}"))?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_HEAD {
            return Err(format!("{shown}: answer head longer than {MAX_HEAD} bytes"));
        }
        let n = socket
            .read(&mut byte)
            .await
            .map_err(|e| format!("{shown}: {e}"))?;
        if n == 0 {
            return Err(format!(
                "{shown} closed the connection before answering CONNECT"
            ));
        }
        head.push(byte[0]);
    }
    let status_line = String::from_utf8_lossy(&head);
    let status_line = status_line.lines().next().unwrap_or("").trim();
    match status_line.split_whitespace().nth(1) {
        Some(code) if code.starts_with('2') => Ok(socket),
        _ => Err(format!(
            "{shown} refused CONNECT {host}:{port}: {status_line}"
        )),
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use tokio::net::TcpListener;

    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn no_proxy_names_hosts_and_domains() {
        let wss = url("wss://wss-open-connection.dingtalk.com/connect");
        let proxy = Some("http://proxy.corp:3128");
        assert_eq!(
            select(&wss, proxy, None).map(|u| u.to_string()),
            Some("http://proxy.corp:3128/".into())
        );
        assert_eq!(
            select(&wss, Some("proxy.corp:8080"), None).unwrap().port(),
            Some(8080)
        );
        assert!(select(&wss, proxy, Some("localhost, .dingtalk.com")).is_none());
        assert!(select(&wss, proxy, Some("wss-open-connection.dingtalk.com")).is_none());
        assert!(select(&wss, proxy, Some("*")).is_none());
        assert!(select(&wss, proxy, Some("example.com,talk.com")).is_some());
        assert!(select(&wss, None, None).is_none());
        assert!(select(&url("ws://127.0.0.1:9/connect"), proxy, None).is_none());
    }

    #[tokio::test]
    async fn a_tunnel_carries_bytes_and_a_refusal_is_named() {
        // The target: answers "你好" to anything.
        let target = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target_port = target.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut s, _) = target.accept().await.unwrap();
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).await.unwrap();
            s.write_all("你好".as_bytes()).await.unwrap();
        });
        // The proxy: checks the CONNECT line, then relays to the target; refuses anything else.
        let proxy = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy_url = url(&format!(
            "http://user:p%40ss@127.0.0.1:{}",
            proxy.local_addr().unwrap().port()
        ));
        tokio::spawn(async move {
            loop {
                let (mut client, _) = proxy.accept().await.unwrap();
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    client.read_exact(&mut byte).await.unwrap();
                    head.push(byte[0]);
                }
                let head = String::from_utf8(head).unwrap();
                if !head.starts_with(&format!("CONNECT 127.0.0.1:{target_port} ")) {
                    client
                        .write_all(b"HTTP/1.1 403 Forbidden\r\n\r\n")
                        .await
                        .unwrap();
                    continue;
                }
                // "user:p@ss", percent-decoded from the URL.
                assert!(
                    head.contains("Proxy-Authorization: Basic dXNlcjpwQHNz\r\n"),
                    "{head}"
                );
                client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await
                    .unwrap();
                let mut upstream = TcpStream::connect(("127.0.0.1", target_port))
                    .await
                    .unwrap();
                tokio::spawn(async move {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                });
            }
        });

        let err = tunnel(&proxy_url, "127.0.0.1", 1).await.unwrap_err();
        assert!(
            err.contains("refused CONNECT 127.0.0.1:1: HTTP/1.1 403 Forbidden"),
            "{err}"
        );
        assert!(
            !err.contains("p%40ss") && !err.contains("p@ss"),
            "no credentials: {err}"
        );

        let mut socket = tunnel(&proxy_url, "127.0.0.1", target_port).await.unwrap();
        socket.write_all(b"ping").await.unwrap();
        let mut answer = Vec::new();
        socket.read_to_end(&mut answer).await.unwrap();
        assert_eq!(String::from_utf8(answer).unwrap(), "你好");
    }
}
