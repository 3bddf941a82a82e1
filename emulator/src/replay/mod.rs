//! Raw HTTP response replay: a TCP server that answers every connection with captured bytes.
//!
//! For testing a client against the exact bytes of a real peer (status line, headers, chunk framing, SSE
//! events, timing, cuts) independent of any HTTP server library. Transcripts live in
//! `emulator/transcripts/*.http`; see [`parse_transcript`] for the file format.

mod server;
mod transcript;

pub use server::ReplayServer;
pub use transcript::{parse_transcript, success_steps, transcript, try_transcript, ReplayStep};
