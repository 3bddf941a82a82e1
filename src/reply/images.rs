//! The answer's data images for one reply: found by [`ImageScanner`], uploaded to DingTalk
//! (each distinct image once per reply, through the budget and the retry policy) and shown
//! by media id; an image that cannot be uploaded, or any data image when
//! `streaming.upload_images` is off, becomes a short note in the card.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use sha2::{Digest, Sha256};

use crate::card::images::{image_markdown, FoundImage, ImageScanner, Piece, Refusal, NOT_SHOWN};
use crate::dingtalk::{Caller, DingTalkClient, Retry, UploadImage};

/// Attempts of one image upload (transient failures and rate limits are retried).
const UPLOAD_ATTEMPTS: u32 = 3;

/// The images of one reply. Owned by the reply task.
pub(super) struct AnswerImages {
    scanner: ImageScanner,
    upload: bool,
    /// By the SHA-256 of the image's bytes: its media id, or why it was not uploaded.
    done: HashMap<[u8; 32], Result<String, Refusal>>,
}

impl AnswerImages {
    /// `upload`: `streaming.upload_images`.
    pub(super) fn new(upload: bool) -> AnswerImages {
        AnswerImages {
            scanner: ImageScanner::default(),
            upload,
            done: HashMap::new(),
        }
    }

    /// The next delta of the answer: what may be shown now.
    pub(super) fn push(&mut self, delta: &str) -> Vec<Piece> {
        self.scanner.push(delta)
    }

    /// The answer ended: what was held back.
    pub(super) fn finish(&mut self) -> Vec<Piece> {
        self.scanner.finish()
    }

    /// The card markdown of `found`: the image by its media id (uploaded now unless the same
    /// image was already), or a note.
    pub(super) async fn show(
        &mut self,
        client: &DingTalkClient,
        caller: &Caller<'_>,
        found: FoundImage,
    ) -> String {
        if !self.upload {
            return NOT_SHOWN.to_owned();
        }
        let image = match found.image {
            Ok(image) => image,
            Err(refusal) => return refusal.note(),
        };
        let key: [u8; 32] = Sha256::digest(&image.bytes).into();
        if let Entry::Vacant(slot) = self.done.entry(key) {
            let upload = UploadImage {
                bytes: &image.bytes,
                mime: image.mime,
                extension: image.extension,
            };
            let result = Retry::attempts("image upload", UPLOAD_ATTEMPTS)
                .run(|| client.upload_image(caller, &upload))
                .await
                .map_err(|e| {
                    log::warn!(
                        "image of the answer ({} bytes, {}) not uploaded: {e}",
                        image.bytes.len(),
                        image.mime
                    );
                    Refusal::UploadFailed
                });
            slot.insert(result);
        }
        match &self.done[&key] {
            Ok(media_id) => image_markdown(&found.alt, media_id),
            Err(refusal) => refusal.note(),
        }
    }
}
