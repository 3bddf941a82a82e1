//! The chunk stream handle (`OcChunkStream`): the receiving end of one reply's channel plus
//! the storage for the chunk last handed out (its text stays valid until the next call).

use std::task::{Context, Poll};
use std::time::Duration;

use openclaw_skill_abi::{Chunk, OcChunk, OcChunkStream, OcFailureKind};
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::runtime::runtime;

/// What a pull produced.
pub enum Pull {
    /// A chunk is in `current`.
    Chunk,
    /// Nothing yet.
    Pending,
    /// The terminal chunk was already delivered.
    End,
}

/// Owned by the host through an `OcChunkStream` pointer; used by one thread at a time.
pub struct StreamState {
    rx: UnboundedReceiver<Chunk>,
    current: Option<Chunk>,
    ended: bool,
    /// Test hook: panic inside the next poll.
    pub panic_on_poll: bool,
}

impl StreamState {
    /// Wraps a reply's receiver.
    pub fn new(rx: UnboundedReceiver<Chunk>) -> StreamState {
        StreamState {
            rx,
            current: None,
            ended: false,
            panic_on_poll: false,
        }
    }

    /// Boxes the state into the opaque handle given to the host.
    pub fn into_handle(self) -> *mut OcChunkStream {
        Box::into_raw(Box::new(self)).cast()
    }

    /// Borrows the state behind a handle.
    ///
    /// # Safety
    /// `handle` must come from [`StreamState::into_handle`], not yet freed, and not used by
    /// another thread during the borrow.
    pub unsafe fn from_handle<'a>(handle: *mut OcChunkStream) -> Option<&'a mut StreamState> {
        // SAFETY: per the contract above.
        unsafe { handle.cast::<StreamState>().as_mut() }
    }

    /// Frees a handle.
    ///
    /// # Safety
    /// As for [`StreamState::from_handle`]; the handle must not be used afterwards.
    pub unsafe fn free(handle: *mut OcChunkStream) {
        if !handle.is_null() {
            // SAFETY: per the contract above; created by Box::into_raw.
            drop(unsafe { Box::from_raw(handle.cast::<StreamState>()) });
        }
    }

    fn accept(&mut self, chunk: Option<Chunk>) -> Pull {
        let chunk = chunk.unwrap_or_else(|| Chunk::Failed {
            kind: OcFailureKind::Internal,
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
    pub fn pull_blocking(&mut self, timeout: Duration) -> Pull {
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
    pub fn poll(&mut self, cx: &mut Context<'_>) -> Pull {
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
    pub fn current(&self) -> OcChunk {
        self.current.as_ref().map_or(OcChunk::empty(), Chunk::as_oc)
    }
}
