//! Transcript files and step builders.

use std::{io, path::PathBuf, time::Duration};

use crate::gateway::sse::{self, Framer};

/// Bytes to write, after a pause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayStep {
    /// Raw bytes, written verbatim.
    pub bytes: Vec<u8>,
    /// Pause before writing them.
    pub delay_before: Duration,
}

impl ReplayStep {
    /// Bytes without a pause.
    pub fn now(bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            bytes: bytes.into(),
            delay_before: Duration::ZERO,
        }
    }

    /// Bytes after a pause.
    pub fn after(delay: Duration, bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            bytes: bytes.into(),
            delay_before: delay,
        }
    }
}

/// Loads `emulator/transcripts/<name>.http`.
///
/// # Panics
/// When the file does not exist or is not a valid transcript (a test-setup error); use
/// [`try_transcript`] to handle that.
pub fn transcript(name: &str) -> Vec<ReplayStep> {
    try_transcript(name).unwrap_or_else(|e| panic!("transcript {name:?}: {e}"))
}

/// Loads `emulator/transcripts/<name>.http`.
pub fn try_transcript(name: &str) -> io::Result<Vec<ReplayStep>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("transcripts")
        .join(format!("{name}.http"));
    parse_transcript(&std::fs::read_to_string(path)?)
}

/// Parses a transcript.
///
/// Format (the files are plain text, LF line ends):
/// * Lines starting with `#` before the status line are comments.
/// * The head: the status line and headers up to the first empty line. It is sent with CRLF line ends.
/// * The body: sent byte for byte (LF stays LF, as the gateway's SSE uses `\n`), except two directives,
///   each on a line of its own: `#delay <ms>` ends a step (what follows is written `<ms>` milliseconds
///   later) and `#cut` ends the transcript (nothing after it is sent).
/// * If the head says `Transfer-Encoding: chunked`, the body is framed like Node's `res.write()`: each SSE
///   event (up to and including its blank line) becomes one chunk, and the final `0\r\n\r\n` chunk is
///   added unless the transcript ends with `#cut` (a connection dropped mid-stream).
/// * Otherwise the body is sent as is: delimit it with `Connection: close` (the server closes after the
///   last step) or a `Content-Length` that matches the body exactly (then the file has no final newline).
pub fn parse_transcript(text: &str) -> io::Result<Vec<ReplayStep>> {
    let invalid = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
    let mut lines = text
        .split_inclusive('\n')
        .skip_while(|l| l.starts_with('#'))
        .peekable();
    if !lines.peek().is_some_and(|l| l.starts_with("HTTP/")) {
        return Err(invalid("a transcript starts with an HTTP status line"));
    }
    let mut head = String::new();
    let mut head_done = false;
    for line in lines.by_ref() {
        let line = line.trim_end_matches(['\r', '\n']);
        head.push_str(line);
        head.push_str("\r\n");
        if line.is_empty() {
            head_done = true;
            break;
        }
    }
    if !head_done {
        return Err(invalid("the head must end with an empty line"));
    }
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let mut segments = vec![(Duration::ZERO, String::new())];
    let mut cut = false;
    for line in lines {
        let directive = line.trim_end_matches(['\r', '\n']);
        if let Some(ms) = directive.strip_prefix("#delay ") {
            let ms: u64 = ms
                .trim()
                .parse()
                .map_err(|_| invalid("#delay takes milliseconds"))?;
            segments.push((Duration::from_millis(ms), String::new()));
        } else if directive == "#cut" {
            cut = true;
            break;
        } else if let Some((_, segment)) = segments.last_mut() {
            segment.push_str(line);
        }
    }
    let mut steps: Vec<ReplayStep> = segments
        .into_iter()
        .map(|(delay, body)| {
            ReplayStep::after(
                delay,
                if chunked {
                    chunk_events(&body)
                } else {
                    body.into_bytes()
                },
            )
        })
        .collect();
    if let Some(first) = steps.first_mut() {
        first.bytes.splice(0..0, head.into_bytes());
    }
    if chunked && !cut {
        if let Some(last) = steps.last_mut() {
            last.bytes.extend_from_slice(b"0\r\n\r\n");
        }
    }
    Ok(steps)
}

/// One HTTP chunk per SSE event.
fn chunk_events(body: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let end = rest.find("\n\n").map_or(rest.len(), |i| i + 2);
        let (event, tail) = rest.split_at(end);
        out.extend_from_slice(format!("{:x}\r\n{event}\r\n", event.len()).as_bytes());
        rest = tail;
    }
    out
}

/// A close-delimited gateway-mode success response whose tokens arrive `interval` apart: the head and
/// role chunk at once, one step per token, then the finish chunk (and the usage chunk when `usage`) and
/// `[DONE]`. For slow-token and timing tests.
pub fn success_steps(
    model: &str,
    tokens: &[&str],
    interval: Duration,
    usage: bool,
) -> Vec<ReplayStep> {
    let framer = Framer::new(model, false);
    let head = "HTTP/1.1 200 OK\r\nX-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n\
                Permissions-Policy: camera=(), microphone=(self), geolocation=()\r\n\
                Content-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n";
    let mut first = head.as_bytes().to_vec();
    first.extend_from_slice(&framer.role(false));
    let mut steps = vec![ReplayStep::now(first)];
    steps.extend(
        tokens
            .iter()
            .map(|t| ReplayStep::after(interval, framer.content(t).to_vec())),
    );
    let mut last = framer.finish().to_vec();
    if usage {
        last.extend_from_slice(&framer.usage(sse::Usage::new(5, tokens.len() as u64)));
    }
    last.extend_from_slice(&sse::done());
    steps.push(ReplayStep::now(last));
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_heads_delays_and_chunks() {
        let text = "# comment\nHTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\ndata: a\n\n#delay 300\ndata: b\n\n";
        let steps = parse_transcript(text).unwrap();
        assert_eq!(steps.len(), 2);
        assert_eq!(
            steps[0].bytes,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\ndata: a\n\n\r\n"
        );
        assert_eq!(steps[1].delay_before, Duration::from_millis(300));
        assert_eq!(steps[1].bytes, b"9\r\ndata: b\n\n\r\n0\r\n\r\n");
        let cut = parse_transcript(
            "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\ndata: a\n\n#cut\nignored",
        )
        .unwrap();
        assert!(cut.last().unwrap().bytes.ends_with(b"data: a\n\n\r\n"));
        assert!(parse_transcript("data: x").is_err());
    }
}
