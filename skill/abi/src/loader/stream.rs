//! [`ChunkStream`]: one reply's chunks, pulled blocking or polled as an async `Stream`.

use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};
use std::time::Duration;

use async_ffi::{ContextExt, FfiPoll};
use futures_util::Stream;

use super::error::PluginError;
use super::plugin::Plugin;
use crate::chunk::{Chunk, Usage};
use crate::codes::{OcChunkKind, OcStatus};
use crate::records::{OcChunk, OcChunkStream};

/// One reply's chunks. Pull with [`ChunkStream::next_blocking`] or use it as an async
/// [`Stream`] on any runtime (the plugin's threads wake the host's task). Dropping it stops
/// listening; the reply and its card updates carry on inside the plugin. Threads: one at a
/// time (`&mut self`); it may move between threads.
pub struct ChunkStream {
    plugin: Plugin,
    handle: NonNull<OcChunkStream>,
    ended: bool,
}

// SAFETY: a stream is used by one thread at a time (guaranteed by `&mut self`) and may move
// between threads per the C contract.
unsafe impl Send for ChunkStream {}

/// What [`ChunkStream::next_blocking`] saw.
#[derive(Debug, PartialEq, Eq)]
pub enum Pulled {
    /// A chunk.
    Chunk(Chunk),
    /// Nothing within the timeout.
    Timeout,
    /// The stream is over.
    End,
}

impl ChunkStream {
    pub(super) fn new(plugin: Plugin, handle: NonNull<OcChunkStream>) -> ChunkStream {
        ChunkStream {
            plugin,
            handle,
            ended: false,
        }
    }

    /// Copies the chunk the plugin just filled in and notes whether it ended the stream.
    fn take(&mut self, chunk: &OcChunk) -> Chunk {
        // SAFETY: the chunk text is valid until the next call on this stream.
        let chunk = unsafe { chunk_from_oc(chunk) };
        self.ended = chunk.is_terminal();
        chunk
    }

    /// Waits at most `timeout` for the next chunk.
    pub fn next_blocking(&mut self, timeout: Duration) -> Result<Pulled, PluginError> {
        if self.ended {
            return Ok(Pulled::End);
        }
        let ms = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX);
        let mut chunk = OcChunk::empty();
        // SAFETY: live stream handle, used by this thread only; `chunk` is a valid local.
        let status =
            unsafe { (self.plugin.vtable.next_chunk)(self.handle.as_ptr(), ms, &mut chunk) };
        match status {
            OcStatus::OK => Ok(Pulled::Chunk(self.take(&chunk))),
            OcStatus::TIMEOUT => Ok(Pulled::Timeout),
            OcStatus::END => {
                self.ended = true;
                Ok(Pulled::End)
            }
            status => {
                self.ended = true;
                Err(PluginError {
                    status,
                    message: format!("next_chunk failed with {status:?}"),
                })
            }
        }
    }
}

impl Stream for ChunkStream {
    type Item = Result<Chunk, PluginError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        let poll_chunk = self.plugin.module.poll_chunk();
        let handle = self.handle.as_ptr();
        let mut chunk = OcChunk::empty();
        // SAFETY: live stream handle used by this task only; the FfiContext lives for the call.
        let polled = cx.with_ffi_context(|fcx| unsafe { poll_chunk(handle, fcx, &mut chunk) });
        match polled {
            FfiPoll::Pending => Poll::Pending,
            FfiPoll::Ready(OcStatus::OK) => Poll::Ready(Some(Ok(self.take(&chunk)))),
            FfiPoll::Ready(OcStatus::END) => {
                self.ended = true;
                Poll::Ready(None)
            }
            FfiPoll::Ready(status) => {
                self.ended = true;
                Poll::Ready(Some(Err(PluginError {
                    status,
                    message: format!("poll_chunk failed with {status:?}"),
                })))
            }
            FfiPoll::Panicked => {
                self.ended = true;
                Poll::Ready(Some(Err(PluginError {
                    status: OcStatus::PANICKED,
                    message: "the plugin panicked while polling the stream".into(),
                })))
            }
        }
    }
}

impl Drop for ChunkStream {
    fn drop(&mut self) {
        // SAFETY: the handle came from `handle_event` and is released exactly once.
        unsafe { (self.plugin.vtable.stream_free)(self.handle.as_ptr()) };
    }
}

/// Copies a C chunk into an owned one.
///
/// # Safety
/// `chunk.text` must be readable (it is, until the next call on the stream that filled it).
pub(crate) unsafe fn chunk_from_oc(chunk: &OcChunk) -> Chunk {
    // SAFETY: forwarded to the caller's guarantee.
    let text = unsafe { chunk.text.as_str() }
        .unwrap_or_default()
        .to_owned();
    match chunk.kind {
        OcChunkKind::STARTED => Chunk::Started { card_id: text },
        OcChunkKind::DELTA => Chunk::Delta(text),
        OcChunkKind::REASONING => Chunk::Reasoning(text),
        OcChunkKind::FINISHED => Chunk::Finished {
            usage: chunk.usage.known.then_some(Usage {
                prompt_tokens: chunk.usage.prompt_tokens,
                completion_tokens: chunk.usage.completion_tokens,
                total_tokens: chunk.usage.total_tokens,
            }),
        },
        OcChunkKind::FAILED => Chunk::Failed {
            kind: chunk.failure,
            message: text,
        },
        OcChunkKind::REPLIED => Chunk::Replied(text),
        OcChunkKind::SKIPPED => Chunk::Skipped(text),
        kind => Chunk::Other { kind, text },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::OcFailureKind;

    #[test]
    fn every_chunk_round_trips_through_the_c_view() {
        let chunks = [
            Chunk::Started {
                card_id: "card_1".into(),
            },
            Chunk::Delta("你好".into()),
            Chunk::Reasoning("thinking".into()),
            Chunk::Finished { usage: None },
            Chunk::Finished {
                usage: Some(Usage {
                    prompt_tokens: 5,
                    completion_tokens: 6,
                    total_tokens: 11,
                }),
            },
            Chunk::Failed {
                kind: OcFailureKind::GATEWAY,
                message: "upstream provider error".into(),
            },
            Chunk::Replied("已开始新会话".into()),
            Chunk::Skipped("duplicate".into()),
            Chunk::Other {
                kind: OcChunkKind(77),
                text: "来自更新的插件".into(),
            },
        ];
        for chunk in chunks {
            let oc = chunk.as_oc();
            // SAFETY: `oc` borrows from `chunk`, which is alive.
            let back = unsafe { chunk_from_oc(&oc) };
            assert_eq!(back, chunk);
        }
    }
}
