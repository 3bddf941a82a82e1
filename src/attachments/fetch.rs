//! Fetching a picture or file from the temporary storage URL DingTalk handed out: a plain
//! `GET` with no header of ours (an added `Content-Type` breaks the storage's signature,
//! `docs/dingtalk-events.md`), read chunk by chunk and abandoned as soon as it passes the
//! size limit. The URL's query is a credential: errors name the host, never the URL.

use crate::dingtalk::DingTalkError;
use crate::secret::Secret;

/// Why a picture or file could not be fetched. Never contains the URL's query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FetchError {
    /// DingTalk gave no download link.
    #[error("no download link from DingTalk: {0}")]
    Link(DingTalkError),
    /// The storage could not be reached, or the body broke off.
    #[error("the download from {host} failed: {reason}")]
    Transport {
        /// `host[:port]` of the storage.
        host: String,
        /// What failed (the cause chain, without the URL).
        reason: String,
    },
    /// The storage answered an error status.
    #[error("the storage {host} answered HTTP {status}{}", code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Status {
        /// `host[:port]` of the storage.
        host: String,
        /// HTTP status.
        status: u16,
        /// The storage's error code (`<Code>` of its XML answer), if any.
        code: Option<String>,
    },
    /// More than the limit: reading stopped there.
    #[error("larger than {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
}

/// `host[:port]` of `url`, for errors.
fn host_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| {
            let host = u.host_str()?.to_owned();
            Some(match u.port() {
                Some(port) => format!("{host}:{port}"),
                None => host,
            })
        })
        .unwrap_or_else(|| "the file storage".to_owned())
}

/// The `<Code>` of an XML error answer (OSS style).
fn error_code(body: &str) -> Option<String> {
    let start = body.find("<Code>")? + "<Code>".len();
    let len = body[start..].find("</Code>")?;
    let code = body[start..start + len].trim();
    (!code.is_empty() && code.len() <= 64).then(|| code.to_owned())
}

/// Sends the `GET` and checks the status.
async fn open(http: &reqwest::Client, url: &Secret) -> Result<reqwest::Response, FetchError> {
    let host = host_of(url.expose());
    let response = http
        .get(url.expose())
        .send()
        .await
        .map_err(|e| FetchError::Transport {
            host: host.clone(),
            reason: crate::net_error::describe(e),
        })?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    Err(FetchError::Status {
        host,
        status: status.as_u16(),
        code: error_code(&body),
    })
}

/// The whole body, at most `limit` bytes: a larger announced length is refused before
/// reading, and reading stops at the first chunk that passes the limit.
pub(super) async fn get(
    http: &reqwest::Client,
    url: &Secret,
    limit: u64,
) -> Result<Vec<u8>, FetchError> {
    let mut response = open(http, url).await?;
    let announced = response.content_length();
    if announced.is_some_and(|n| n > limit) {
        return Err(FetchError::TooLarge { limit });
    }
    let mut body = Vec::with_capacity(announced.unwrap_or(0) as usize);
    loop {
        let chunk = response.chunk().await.map_err(|e| FetchError::Transport {
            host: host_of(url.expose()),
            reason: crate::net_error::describe(e),
        })?;
        let Some(chunk) = chunk else {
            return Ok(body);
        };
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(FetchError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
}

/// The size the storage announces (`Content-Length`), without reading the body.
pub(super) async fn announced_size(
    http: &reqwest::Client,
    url: &Secret,
) -> Result<Option<u64>, FetchError> {
    Ok(open(http, url).await?.content_length())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A one-connection server: reads the request head, hands it over, answers `head`
    /// then `body_chunks` chunks of 64 KiB; returns the bytes it managed to write.
    async fn serve_once(
        head: &'static str,
        body_chunks: usize,
    ) -> (
        String,
        tokio::sync::oneshot::Receiver<String>,
        tokio::task::JoinHandle<usize>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = socket.read(&mut buf).await.unwrap();
                request.extend_from_slice(&buf[..n]);
            }
            let _ = tx.send(String::from_utf8_lossy(&request).into_owned());
            let mut written = 0;
            if socket.write_all(head.as_bytes()).await.is_err() {
                return written;
            }
            let chunk = vec![b'x'; 64 * 1024];
            for _ in 0..body_chunks {
                if socket.write_all(&chunk).await.is_err() {
                    break;
                }
                written += chunk.len();
            }
            written
        });
        (
            format!("http://127.0.0.1:{port}/oss/文件?Expires=1&Signature=SECRET"),
            rx,
            server,
        )
    }

    #[tokio::test]
    async fn reading_stops_past_the_limit_and_no_content_type_is_sent() {
        // 64 MiB offered without a length; the limit is 256 KiB.
        let (url, request, server) =
            serve_once("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", 1024).await;
        let http = reqwest::Client::new();
        let err = get(&http, &Secret::new(url), 256 * 1024).await.unwrap_err();
        assert_eq!(err, FetchError::TooLarge { limit: 256 * 1024 });
        drop(http);
        let head = request.await.unwrap().to_ascii_lowercase();
        assert!(head.starts_with("get /oss/"), "{head}");
        assert!(!head.contains("content-type"), "{head}");
        let written = server.await.unwrap();
        assert!(
            written < 64 * 1024 * 1024,
            "the server could write all {written} bytes: the body was read to the end"
        );
    }

    #[tokio::test]
    async fn an_announced_length_over_the_limit_is_refused_before_reading() {
        let (url, _request, _server) =
            serve_once("HTTP/1.1 200 OK\r\nContent-Length: 20971521\r\n\r\n", 0).await;
        let err = get(&reqwest::Client::new(), &Secret::new(url), 20 * 1024 * 1024)
            .await
            .unwrap_err();
        assert_eq!(
            err,
            FetchError::TooLarge {
                limit: 20 * 1024 * 1024
            }
        );
    }

    #[tokio::test]
    async fn a_refusal_names_the_host_and_the_storage_code_not_the_signature() {
        let (url, _request, _server) = serve_once(
            "HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\nConnection: close\r\n\r\n<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code><Message>签名不匹配</Message></Error>",
            0,
        )
        .await;
        let err = get(&reqwest::Client::new(), &Secret::new(url.clone()), 1024)
            .await
            .unwrap_err();
        let shown = err.to_string();
        let host = url.split('/').nth(2).unwrap();
        assert_eq!(
            shown,
            format!("the storage {host} answered HTTP 403 (SignatureDoesNotMatch)")
        );
        assert!(!shown.contains("SECRET"));
    }

    #[tokio::test]
    async fn a_refused_connection_names_the_host_not_the_signature() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let url = format!("http://127.0.0.1:{port}/oss/图片?Signature=SECRET");
        let err = get(&reqwest::Client::new(), &Secret::new(url), 1024)
            .await
            .unwrap_err();
        let shown = err.to_string();
        assert!(
            shown.starts_with(&format!("the download from 127.0.0.1:{port} failed: ")),
            "{shown}"
        );
        assert!(!shown.contains("SECRET"), "{shown}");
    }
}
