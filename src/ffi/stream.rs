//! The chunk stream handle (`OcChunkStream`): the receiving end of one reply's channel plus
//! the storage for the chunk last handed out (its text stays valid until the next call), and
//! `next_chunk`/`stream_free`. An `OcChunkStream*` is a leaked `Box<StreamState>`.

use std::task::{Context, Poll};
use std::time::Duration;

use openclaw_skill_abi::{Chunk, OcChunk, OcChunkStream, OcFailureKind, OcStatus};
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::mpsc::UnboundedReceiver;

use super::{guard, report, required};
use crate::runtime::runtime;
use crate::skill::SkillError;

/// What a pull produced.
pub(super) enum Pull {
    /// A chunk is in `current`.
    Chunk,
    /// Nothing yet.
    Pending,
    /// The terminal chunk was already delivered.
    End,
}

/// Owned by the host through an `OcChunkStream` pointer; used by one thread at a time.
pub(super) struct StreamState {
    rx: UnboundedReceiver<Chunk>,
    current: Option<Chunk>,
    ended: bool,
    /// Test hook: panic inside the next poll.
    panic_on_poll: bool,
}

impl StreamState {
    /// Wraps the receiver of the reply to `event_json` (which may carry a test hook).
    pub(super) fn for_event(rx: UnboundedReceiver<Chunk>, event_json: &str) -> StreamState {
        #[cfg(not(feature = "test-hooks"))]
        let _ = event_json;
        StreamState {
            rx,
            current: None,
            ended: false,
            #[cfg(feature = "test-hooks")]
            panic_on_poll: crate::test_hooks::has(event_json, crate::test_hooks::Hook::Poll),
            #[cfg(not(feature = "test-hooks"))]
            panic_on_poll: false,
        }
    }

    /// Boxes the state into the opaque handle given to the host.
    pub(super) fn into_handle(self) -> *mut OcChunkStream {
        Box::into_raw(Box::new(self)).cast()
    }

    /// Borrows the state behind a handle.
    ///
    /// # Safety
    /// `handle` must come from [`StreamState::into_handle`], not yet freed, and not used by
    /// another thread during the borrow.
    pub(super) unsafe fn from_handle<'a>(
        handle: *mut OcChunkStream,
    ) -> Option<&'a mut StreamState> {
        // SAFETY: per the contract above.
        unsafe { handle.cast::<StreamState>().as_mut() }
    }

    /// Frees a handle.
    ///
    /// # Safety
    /// As for [`StreamState::from_handle`]; the handle must not be used afterwards.
    unsafe fn free(handle: *mut OcChunkStream) {
        if !handle.is_null() {
            // SAFETY: per the contract above; created by Box::into_raw.
            drop(unsafe { Box::from_raw(handle.cast::<StreamState>()) });
        }
    }

    fn accept(&mut self, chunk: Option<Chunk>) -> Pull {
        let chunk = chunk.unwrap_or_else(|| Chunk::Failed {
            kind: OcFailureKind::INTERNAL,
            message: "the reply task ended without a result (internal error)".into(),
        });
        self.ended = chunk.is_terminal();
        self.current = Some(chunk);
        Pull::Chunk
    }

    fn check_hook(&mut self) {
        if self.panic_on_poll {
            self.panic_on_poll = false;
            self.ended = true;
            panic!("test hook: panic inside the chunk stream poll");
        }
    }

    /// Blocking pull with a timeout, for C hosts (call from a host thread, never a plugin thread).
    fn pull_blocking(&mut self, timeout: Duration) -> Pull {
        if self.ended {
            return Pull::End;
        }
        self.check_hook();
        match self.rx.try_recv() {
            Ok(chunk) => return self.accept(Some(chunk)),
            Err(TryRecvError::Disconnected) => return self.accept(None),
            Err(TryRecvError::Empty) if timeout.is_zero() => return Pull::Pending,
            Err(TryRecvError::Empty) => {}
        }
        let rx = &mut self.rx;
        match runtime().block_on(async { tokio::time::timeout(timeout, rx.recv()).await }) {
            Ok(chunk) => self.accept(chunk),
            Err(_) => Pull::Pending,
        }
    }

    /// Async pull: registers `cx`'s waker, which a plugin thread wakes on the next chunk.
    pub(super) fn poll(&mut self, cx: &mut Context<'_>) -> Pull {
        if self.ended {
            return Pull::End;
        }
        self.check_hook();
        match self.rx.poll_recv(cx) {
            Poll::Ready(chunk) => self.accept(chunk),
            Poll::Pending => Pull::Pending,
        }
    }

    /// The C view of the chunk last pulled.
    pub(super) fn current(&self) -> OcChunk {
        self.current.as_ref().map_or(OcChunk::empty(), Chunk::as_oc)
    }
}

/// See [`openclaw_skill_abi::OcSkillVTable::next_chunk`].
///
/// # Safety
/// `stream` a live handle used by this thread only; `out_chunk` writable.
pub(super) unsafe extern "C" fn next_chunk(
    stream: *mut OcChunkStream,
    timeout_ms: u32,
    out_chunk: *mut OcChunk,
) -> OcStatus {
    let mut status = OcStatus::OK;
    let result = guard(|| {
        // SAFETY: the caller passes a live handle that no other thread uses now.
        let state = unsafe { StreamState::from_handle(stream) }
            .ok_or_else(|| SkillError::new(OcStatus::INVALID_ARGUMENT, "stream is null"))?;
        required(out_chunk, "out_chunk")?;
        status = match state.pull_blocking(Duration::from_millis(u64::from(timeout_ms))) {
            Pull::Chunk => {
                // SAFETY: checked non-null above; the caller passes a writable `out_chunk`.
                unsafe { out_chunk.write(state.current()) };
                OcStatus::OK
            }
            Pull::Pending => OcStatus::TIMEOUT,
            Pull::End => OcStatus::END,
        };
        Ok(())
    });
    // SAFETY: a null `out_error` is always allowed.
    match unsafe { report(result, std::ptr::null_mut()) } {
        OcStatus::OK => status,
        failed => failed,
    }
}

/// See [`openclaw_skill_abi::OcSkillVTable::stream_free`].
///
/// # Safety
/// `stream` null or a live handle, not used afterwards.
pub(super) unsafe extern "C" fn stream_free(stream: *mut OcChunkStream) {
    let _ = guard(|| {
        // SAFETY: the caller hands back a handle made by `into_handle`, once.
        unsafe { StreamState::free(stream) };
        Ok(())
    });
}
