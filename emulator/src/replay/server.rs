//! The replay server.

use std::{
    io,
    net::SocketAddr,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    task::{JoinHandle, JoinSet},
};

use super::ReplayStep;
use crate::http::bind_loopback;

/// Largest request head read before giving up on a connection.
const MAX_HEAD_BYTES: usize = 1024 * 1024;

/// A raw TCP server on `127.0.0.1:0`. For each connection it reads one HTTP request (head and body,
/// by `Content-Length` or chunked framing), then writes the steps verbatim, each after its delay. With
/// `close_after` it then closes the connection; otherwise it keeps it open until the client closes it.
/// Dropping the server stops it and closes every connection.
#[derive(Debug)]
pub struct ReplayServer {
    addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

#[derive(Debug, Default)]
struct State {
    connections: AtomicUsize,
    last_request: Mutex<Option<String>>,
}

impl ReplayServer {
    /// Starts serving `steps` to every connection.
    pub async fn start(steps: Vec<ReplayStep>, close_after: bool) -> io::Result<Self> {
        let listener = bind_loopback(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State::default());
        let task = tokio::spawn(accept_loop(
            listener,
            Arc::new(steps),
            close_after,
            state.clone(),
        ));
        Ok(Self { addr, state, task })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// The last request received (head and body, lossily decoded as UTF-8).
    pub fn last_request(&self) -> Option<String> {
        self.state
            .last_request
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Drop for ReplayServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    steps: Arc<Vec<ReplayStep>>,
    close_after: bool,
    state: Arc<State>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    state.connections.fetch_add(1, Ordering::SeqCst);
                    connections.spawn(serve(stream, steps.clone(), close_after, state.clone()));
                }
                Err(e) => log::warn!("replay: accept failed: {e}"),
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve(
    mut stream: TcpStream,
    steps: Arc<Vec<ReplayStep>>,
    close_after: bool,
    state: Arc<State>,
) {
    let Ok(request) = read_request(&mut stream).await else {
        return;
    };
    *state.last_request.lock().unwrap_or_else(|p| p.into_inner()) =
        Some(String::from_utf8_lossy(&request).into_owned());
    for step in steps.iter() {
        if !step.delay_before.is_zero() {
            tokio::time::sleep(step.delay_before).await;
        }
        if stream.write_all(&step.bytes).await.is_err() || stream.flush().await.is_err() {
            return;
        }
    }
    if close_after {
        let _ = stream.shutdown().await;
        return;
    }
    let mut sink = [0u8; 4096];
    while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
}

/// Reads one request: the head, then a `Content-Length` or chunked body.
async fn read_request(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD_BYTES || read_more(stream, &mut buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let header = |name: &str| {
        head.lines().find_map(|l| {
            l.split_once(':')
                .filter(|(n, _)| n.trim() == name)
                .map(|(_, v)| v.trim().to_string())
        })
    };
    if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        while find(&buf[head_end..], b"0\r\n\r\n").is_none() {
            if read_more(stream, &mut buf).await? == 0 {
                break;
            }
        }
    } else {
        let length = header("content-length")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0);
        while buf.len() < head_end + length {
            if read_more(stream, &mut buf).await? == 0 {
                break;
            }
        }
    }
    Ok(buf)
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<usize> {
    let mut chunk = [0u8; 8192];
    let n = stream.read(&mut chunk).await?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
