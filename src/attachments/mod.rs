//! Pictures and files users send (or quote), made ready for the model: each is fetched
//! (the download link from DingTalk, then the file from DingTalk's storage, [`fetch`]) under
//! `attachments.download_timeout_ms`, all at once; pictures become image parts of the user
//! message ([`image`]), text files fenced blocks of the prompt ([`text_file`]), and whatever
//! could not be read is named to the model and, in one short line, to the user. A fetch
//! that fails or times out never holds the reply up: the model gets the text and a note,
//! the log says why (`docs/manifest.md`, "Pictures and files").

mod fetch;
mod image;
mod size;
mod text_file;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;

use crate::dingtalk::{CallStats, Caller, DingTalkClient, Priority, Retry};
use crate::event::{Attachment, AttachmentKind};
use crate::gateway::ImagePart;
use crate::manifest::AttachmentsConfig;
use crate::network::Network;
use crate::retry::FILE_LINK_ATTEMPTS;
use fetch::FetchError;
use size::human;
use text_file::Cut;

/// Most pictures sent with one message (the gateway's default `maxImageParts`).
pub(crate) const MAX_PICTURES: usize = 8;
/// Most picture bytes sent with one message: base64 makes them 4/3 larger, and with the
/// text they stay under the gateway's default 20 MiB body limit.
pub(crate) const MAX_PICTURE_BYTES: u64 = 14 * 1024 * 1024;
/// Deadline for connecting to the file storage.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Fetches and reads attachments. Shared by all replies; threads: any.
pub(crate) struct Attachments {
    config: AttachmentsConfig,
    /// For the storage `GET`: no header of ours, a few redirects at most.
    http: reqwest::Client,
    dingtalk: Arc<DingTalkClient>,
}

/// What the model and the user get from a message's attachments.
#[derive(Debug, Default)]
pub(crate) struct Prepared {
    /// Blocks for the prompt after the user's text, in order: file texts and notes on what
    /// was not read.
    pub(crate) blocks: Vec<String>,
    /// The pictures, in order.
    pub(crate) images: Vec<ImagePart>,
    /// What the user is told was not (fully) read: `label — why`, in order.
    pub(crate) unread: Vec<String>,
}

impl Prepared {
    /// The line the card shows under the answer when something was not (fully) read.
    pub(crate) fn card_note(&self) -> Option<String> {
        (!self.unread.is_empty()).then(|| {
            format!(
                "\n\n> 📎 未完整读取 (not fully read): {}",
                self.unread.join("；")
            )
        })
    }
}

/// Why an attachment was not read.
#[derive(Debug)]
enum NotRead {
    /// A file whose name or bytes are not text.
    NotText,
    /// A picture the gateway does not take.
    PictureFormat,
    /// Larger than the limit.
    TooLarge { limit: u64 },
    /// Beyond [`MAX_PICTURES`].
    TooManyPictures,
    /// Beyond [`MAX_PICTURE_BYTES`] with the pictures before it.
    PicturesTooLarge,
    /// `attachments.download_timeout_ms` passed.
    TimedOut { after: Duration },
    /// The link or the download failed.
    Failed(FetchError),
}

impl NotRead {
    /// What the model is told.
    fn for_model(&self) -> String {
        match self {
            NotRead::NotText => "not read: only text files are read".into(),
            NotRead::PictureFormat => {
                "not sent: only PNG, JPEG, GIF and WebP pictures are sent".into()
            }
            NotRead::TooLarge { limit } => format!("not read: larger than {}", human(*limit)),
            NotRead::TooManyPictures => {
                format!(
                    "not sent: at most {MAX_PICTURES} pictures go to the model with one message"
                )
            }
            NotRead::PicturesTooLarge => format!(
                "not sent: the pictures of one message may total at most {}",
                human(MAX_PICTURE_BYTES)
            ),
            NotRead::TimedOut { after } => format!(
                "could not be fetched: the download took longer than {} s",
                after.as_secs_f64()
            ),
            NotRead::Failed(_) => "could not be fetched".into(),
        }
    }

    /// What the user is told, in a few words.
    fn for_user(&self) -> String {
        match self {
            NotRead::NotText => "只读取文本文件 (only text files are read)".into(),
            NotRead::PictureFormat => "图片格式不支持 (unsupported picture format)".into(),
            NotRead::TooLarge { limit } => {
                format!("超过 {0} (larger than {0})", human(*limit))
            }
            NotRead::TooManyPictures => {
                format!("图片超过 {MAX_PICTURES} 张 (more than {MAX_PICTURES} pictures)")
            }
            NotRead::PicturesTooLarge => "图片总大小超限 (pictures too large in total)".into(),
            NotRead::TimedOut { .. } => "下载超时 (download timed out)".into(),
            NotRead::Failed(_) => "下载失败 (download failed)".into(),
        }
    }

    /// For the log: what happened, with the cause of a failure.
    fn for_log(&self) -> String {
        match self {
            NotRead::Failed(e) => format!("could not be fetched: {e}"),
            other => other.for_model(),
        }
    }
}

/// What became of one attachment.
#[derive(Debug)]
enum Outcome {
    /// A picture for the model.
    Picture(ImagePart),
    /// A text file's prompt block, and where its text was cut.
    Text { block: String, cut: Option<Cut> },
    /// Not read (its size, when known).
    NotRead { size: Option<u64>, why: NotRead },
}

impl Outcome {
    fn not_read(why: NotRead) -> Outcome {
        Outcome::NotRead { size: None, why }
    }
}

impl Attachments {
    /// The fetcher for `attachments:`, trusting `network`'s CAs; links come from `dingtalk`.
    pub(crate) fn new(
        config: &AttachmentsConfig,
        network: &Network,
        dingtalk: Arc<DingTalkClient>,
    ) -> Result<Attachments, String> {
        let http = network
            .client_builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .map_err(crate::net_error::describe)?;
        Ok(Attachments {
            config: config.clone(),
            http,
            dingtalk,
        })
    }

    /// Fetches `attachments` of message `msg_id` at once, each within
    /// `attachments.download_timeout_ms`, and reads them in order. DingTalk calls are
    /// counted in `stats` and budgeted for `conversation`.
    pub(crate) async fn prepare(
        &self,
        msg_id: &str,
        conversation: &str,
        stats: &CallStats,
        attachments: &[Attachment],
    ) -> Prepared {
        let caller = Caller {
            stats,
            priority: Priority::Create,
            conversation,
        };
        let timeout = Duration::from_millis(self.config.download_timeout_ms);
        let mut pictures = 0;
        let fetches = attachments.iter().map(|attachment| {
            let over = attachment.is_picture() && {
                pictures += 1;
                pictures > MAX_PICTURES
            };
            async move {
                if over {
                    return Outcome::not_read(NotRead::TooManyPictures);
                }
                tokio::time::timeout(timeout, self.read(&caller, attachment))
                    .await
                    .unwrap_or(Outcome::not_read(NotRead::TimedOut { after: timeout }))
            }
        });
        let outcomes = join_all(fetches).await;
        let mut prepared = Prepared::default();
        let mut picture_bytes = 0;
        for (attachment, outcome) in attachments.iter().zip(outcomes) {
            let label = &attachment.label;
            let outcome = match outcome {
                Outcome::Picture(image)
                    if picture_bytes + image.bytes as u64 > MAX_PICTURE_BYTES =>
                {
                    Outcome::NotRead {
                        size: Some(image.bytes as u64),
                        why: NotRead::PicturesTooLarge,
                    }
                }
                other => other,
            };
            match outcome {
                Outcome::Picture(image) => {
                    picture_bytes += image.bytes as u64;
                    prepared.images.push(image);
                }
                Outcome::Text { block, cut } => {
                    prepared.blocks.push(block);
                    if let Some(cut) = cut {
                        log::info!(
                            "msg {msg_id}: {label} cut after {} of {} bytes of text",
                            cut.shown,
                            cut.total
                        );
                        prepared.unread.push(format!(
                            "{label} — 只读了前 {0} (only the first {0} was read)",
                            human(cut.shown as u64)
                        ));
                    }
                }
                Outcome::NotRead { size, why } => {
                    let size = size.map(|s| format!(", {}", human(s))).unwrap_or_default();
                    match why {
                        NotRead::TimedOut { .. } | NotRead::Failed(_) => {
                            log::warn!("msg {msg_id}: {label}{size} {}", why.for_log())
                        }
                        _ => log::info!("msg {msg_id}: {label}{size} {}", why.for_log()),
                    }
                    prepared
                        .blocks
                        .push(format!("[{label}{size}: {}]", why.for_model()));
                    prepared
                        .unread
                        .push(format!("{label} — {}", why.for_user()));
                }
            }
        }
        prepared
    }

    /// Fetches and reads one attachment.
    async fn read(&self, caller: &Caller<'_>, attachment: &Attachment) -> Outcome {
        let code = &attachment.download_code.0;
        let link = Retry::attempts("file download link", FILE_LINK_ATTEMPTS)
            .run(|| self.dingtalk.message_file_url(caller, code))
            .await;
        let url = match link {
            Ok(url) => url,
            Err(e) => return Outcome::not_read(NotRead::Failed(FetchError::Link(e))),
        };
        let failed = |e: FetchError| match e {
            FetchError::TooLarge { limit } => Outcome::not_read(NotRead::TooLarge { limit }),
            other => Outcome::not_read(NotRead::Failed(other)),
        };
        match &attachment.kind {
            AttachmentKind::Picture => {
                let bytes = match fetch::get(&self.http, &url, self.config.max_image_bytes).await {
                    Ok(bytes) => bytes,
                    Err(e) => return failed(e),
                };
                match image::media_type(&bytes) {
                    Some(media_type) => Outcome::Picture(ImagePart::new(media_type, &bytes)),
                    None => Outcome::NotRead {
                        size: Some(bytes.len() as u64),
                        why: NotRead::PictureFormat,
                    },
                }
            }
            AttachmentKind::File { name } if text_file::has_text_name(name) => {
                let bytes = match fetch::get(&self.http, &url, self.config.max_download_bytes).await
                {
                    Ok(bytes) => bytes,
                    Err(e) => return failed(e),
                };
                let size = bytes.len() as u64;
                match text_file::decode(&bytes) {
                    Some(text) => {
                        let (block, cut) = text_file::block(
                            &attachment.label,
                            name,
                            size,
                            &text,
                            self.config.max_file_text_bytes as usize,
                        );
                        Outcome::Text { block, cut }
                    }
                    None => Outcome::NotRead {
                        size: Some(size),
                        why: NotRead::NotText,
                    },
                }
            }
            // Not read whatever it holds; only its size is asked for, to name it.
            AttachmentKind::File { .. } => match fetch::announced_size(&self.http, &url).await {
                Ok(size) => Outcome::NotRead {
                    size,
                    why: NotRead::NotText,
                },
                Err(e) => {
                    log::info!("size of {} unknown: {e}", attachment.label);
                    Outcome::not_read(NotRead::NotText)
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_card_note_names_each_item_not_read_in_one_line() {
        let prepared = Prepared {
            unread: vec![
                format!("文件 季度报告.pdf — {}", NotRead::NotText.for_user()),
                format!(
                    "图片2 — {}",
                    NotRead::TimedOut {
                        after: Duration::from_secs(15)
                    }
                    .for_user()
                ),
            ],
            ..Prepared::default()
        };
        assert_eq!(
            prepared.card_note().unwrap(),
            "\n\n> 📎 未完整读取 (not fully read): 文件 季度报告.pdf — 只读取文本文件 (only text files are read)；图片2 — 下载超时 (download timed out)"
        );
        assert_eq!(Prepared::default().card_note(), None);
    }
}
