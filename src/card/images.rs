//! Images in the answer: finds markdown images whose URL is a `data:` URL
//! (`![alt](data:image/png;base64,…)`) in the streamed answer, so they can be uploaded and
//! shown by their media id. Everything else passes through unchanged (an `https` image is
//! shown by DingTalk as it is).
//!
//! While a data image is still streaming in, its text is held back: the card never shows
//! partial base64. Text that may still become one (`![图`, `![图](da`) is held until it is
//! clear; a base64 run over [`MAX_IMAGE_BYTES`] is not kept in memory (it becomes a note when
//! its closing parenthesis arrives).

use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;

/// The largest image DingTalk's media upload accepts (type `image`: "20MB", read as the smaller
/// 20 000 000 bytes).
pub(crate) const MAX_IMAGE_BYTES: usize = 20_000_000;
/// Longest alt text of an image (longer text after `![` is not an image).
const MAX_ALT_BYTES: usize = 512;
/// Shown instead of a data image when uploading images is turned off.
pub(crate) const NOT_SHOWN: &str = "[图片 (image) not shown]";

/// A piece of the answer, in order.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Text to show as it is.
    Text(String),
    /// A data image, complete (its closing parenthesis arrived or the answer ended).
    Image(FoundImage),
}

/// A data image found in the answer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct FoundImage {
    /// Its alt text.
    pub(crate) alt: String,
    /// The decoded image, or why it cannot be uploaded.
    pub(crate) image: Result<DataImage, Refusal>,
}

/// A decoded image of a type DingTalk accepts.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct DataImage {
    /// `image/png`, `image/jpeg`, `image/gif` or `image/bmp`.
    pub(crate) mime: &'static str,
    /// The file extension DingTalk checks.
    pub(crate) extension: &'static str,
    /// The image's bytes.
    pub(crate) bytes: Vec<u8>,
}

/// Why a data image is not uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Over [`MAX_IMAGE_BYTES`].
    TooLarge,
    /// A data URL of another type (its MIME type, cleaned).
    Unsupported(String),
    /// Not valid base64.
    Invalid,
    /// The answer ended inside the data URL.
    Incomplete,
    /// DingTalk did not take the upload.
    UploadFailed,
}

impl Refusal {
    /// The note the card shows instead of the image.
    pub(crate) fn note(&self) -> String {
        let why = match self {
            Refusal::TooLarge => format!("超过 {} MB", MAX_IMAGE_BYTES / 1_000_000),
            Refusal::Unsupported(mime) => format!("不支持的类型 {mime}"),
            Refusal::Invalid => "图片数据无效".to_owned(),
            Refusal::Incomplete => "图片数据不完整".to_owned(),
            Refusal::UploadFailed => "上传失败".to_owned(),
        };
        format!("[图片未能上传 (image could not be uploaded): {why}]")
    }
}

/// The card markdown of an uploaded image.
pub(crate) fn image_markdown(alt: &str, media_id: &str) -> String {
    format!("![{alt}]({media_id})")
}

/// What the scanner is in the middle of.
#[derive(Debug)]
enum State {
    /// Plain text; `held` may hold the start of a possible image (`![…`).
    Text,
    /// Inside `![alt](data:`; `held` holds the URL after `data:` (empty once over the limit).
    Data { alt: String, too_large: bool },
}

/// Finds data images in a streamed answer. One per reply; feed it the answer's deltas in order.
#[derive(Debug)]
pub(crate) struct ImageScanner {
    state: State,
    held: String,
    /// Longest data URL kept (base64 of [`MAX_IMAGE_BYTES`] and its header).
    max_url_bytes: usize,
}

/// What the text at a `!` is.
enum Start {
    /// Could still become `![alt](data:` once more text arrives.
    Maybe,
    /// `![alt](data:` ends at this byte offset.
    Data { alt: String, end: usize },
    /// Not a data image.
    No,
}

fn classify(s: &str) -> Start {
    let Some(rest) = s.strip_prefix('!') else {
        return Start::No;
    };
    if rest.is_empty() {
        return Start::Maybe;
    }
    let Some(rest) = rest.strip_prefix('[') else {
        return Start::No;
    };
    let Some(close) = rest.find(']') else {
        return if rest.len() > MAX_ALT_BYTES || rest.contains('\n') {
            Start::No
        } else {
            Start::Maybe
        };
    };
    let alt = &rest[..close];
    if alt.len() > MAX_ALT_BYTES || alt.contains('\n') || alt.contains('[') {
        return Start::No;
    }
    let after = &rest[close + 1..];
    const OPEN: &str = "(data:";
    let n = after.len().min(OPEN.len());
    if !after.is_char_boundary(n) || !after[..n].eq_ignore_ascii_case(&OPEN[..n]) {
        return Start::No;
    }
    if n < OPEN.len() {
        return Start::Maybe;
    }
    Start::Data {
        alt: alt.to_owned(),
        end: 2 + close + 1 + OPEN.len(),
    }
}

/// Decodes the URL after `data:` (up to the closing parenthesis).
fn decode(url: &str) -> Result<DataImage, Refusal> {
    // A markdown title after the URL (`data:… "title"`) is not part of it.
    let url = url.trim().split(char::is_whitespace).next().unwrap_or("");
    let (header, payload) = url.split_once(',').ok_or(Refusal::Invalid)?;
    let mut params = header.split(';');
    let mime = params.next().unwrap_or("").trim().to_ascii_lowercase();
    let (mime, extension) = match mime.as_str() {
        "image/png" => ("image/png", "png"),
        "image/jpeg" | "image/jpg" => ("image/jpeg", "jpg"),
        "image/gif" => ("image/gif", "gif"),
        "image/bmp" | "image/x-ms-bmp" => ("image/bmp", "bmp"),
        other => {
            let clean: String = other
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || "/+-.".contains(*c))
                .take(40)
                .collect();
            return Err(Refusal::Unsupported(if clean.is_empty() {
                "?".into()
            } else {
                clean
            }));
        }
    };
    if !params.any(|p| p.trim().eq_ignore_ascii_case("base64")) {
        return Err(Refusal::Invalid);
    }
    let payload = payload.trim_end_matches('=');
    let bytes = STANDARD_NO_PAD
        .decode(payload)
        .or_else(|_| URL_SAFE_NO_PAD.decode(payload))
        .map_err(|_| Refusal::Invalid)?;
    if bytes.is_empty() {
        return Err(Refusal::Invalid);
    }
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(Refusal::TooLarge);
    }
    Ok(DataImage {
        mime,
        extension,
        bytes,
    })
}

impl Default for ImageScanner {
    fn default() -> Self {
        Self::with_limit(MAX_IMAGE_BYTES)
    }
}

impl ImageScanner {
    /// A scanner that refuses images over `max_image_bytes` without keeping them.
    pub(crate) fn with_limit(max_image_bytes: usize) -> Self {
        ImageScanner {
            state: State::Text,
            held: String::new(),
            max_url_bytes: max_image_bytes.div_ceil(3) * 4 + 64,
        }
    }

    /// Bytes held back (not yet shown), for tests and the memory bound.
    #[cfg(test)]
    fn held_bytes(&self) -> usize {
        self.held.len()
    }

    /// Feeds the next delta; answers what may be shown now.
    pub(crate) fn push(&mut self, delta: &str) -> Vec<Piece> {
        let mut out = Vec::new();
        let mut text = String::new();
        // Inside a data URL `held` is the URL so far: only the new text is searched (a large
        // image streamed in small deltas is not copied again and again).
        let input = match self.state {
            State::Text => std::mem::take(&mut self.held) + delta,
            State::Data { .. } => delta.to_owned(),
        };
        let mut rest: &str = &input;
        loop {
            match &mut self.state {
                State::Text => {
                    let Some(at) = rest.find('!') else {
                        text.push_str(rest);
                        break;
                    };
                    text.push_str(&rest[..at]);
                    rest = &rest[at..];
                    match classify(rest) {
                        Start::Maybe => {
                            self.held = rest.to_owned();
                            break;
                        }
                        Start::No => {
                            text.push('!');
                            rest = &rest[1..];
                        }
                        Start::Data { alt, end } => {
                            rest = &rest[end..];
                            self.state = State::Data {
                                alt,
                                too_large: false,
                            };
                        }
                    }
                }
                State::Data { alt, too_large } => {
                    let Some(close) = rest.find(')') else {
                        if !*too_large {
                            self.held.push_str(rest);
                            if self.held.len() > self.max_url_bytes {
                                *too_large = true;
                                self.held = String::new();
                            }
                        }
                        break;
                    };
                    let image = if *too_large {
                        Err(Refusal::TooLarge)
                    } else {
                        self.held.push_str(&rest[..close]);
                        decode(&std::mem::take(&mut self.held))
                    };
                    let alt = std::mem::take(alt);
                    self.state = State::Text;
                    rest = &rest[close + 1..];
                    if !text.is_empty() {
                        out.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    out.push(Piece::Image(FoundImage { alt, image }));
                }
            }
        }
        if !text.is_empty() {
            out.push(Piece::Text(text));
        }
        out
    }

    /// The answer ended: text held as a possible image is shown; a data image cut off is
    /// answered as incomplete.
    pub(crate) fn finish(&mut self) -> Vec<Piece> {
        let held = std::mem::take(&mut self.held);
        match std::mem::replace(&mut self.state, State::Text) {
            State::Text if held.is_empty() => Vec::new(),
            State::Text => vec![Piece::Text(held)],
            State::Data { alt, too_large } => vec![Piece::Image(FoundImage {
                alt,
                image: Err(if too_large {
                    Refusal::TooLarge
                } else {
                    Refusal::Incomplete
                }),
            })],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR fake chart";

    fn data_url(bytes: &[u8]) -> String {
        format!("data:image/png;base64,{}", STANDARD.encode(bytes))
    }

    /// Feeds `chunks` and the end; answers what the card would show, images as `<IMG alt n>`
    /// (n bytes) or their note, and every piece in order.
    fn scan(chunks: &[&str]) -> (String, Vec<Piece>) {
        let mut s = ImageScanner::default();
        let mut pieces = Vec::new();
        let mut shown = String::new();
        for c in chunks {
            let new = s.push(c);
            for p in &new {
                if let Piece::Text(t) = p {
                    assert!(!t.contains("base64"), "partial data shown: {t}");
                }
            }
            pieces.extend(new);
        }
        pieces.extend(s.finish());
        for p in &pieces {
            match p {
                Piece::Text(t) => shown.push_str(t),
                Piece::Image(FoundImage { alt, image: Ok(i) }) => {
                    shown.push_str(&format!("<IMG {alt} {}>", i.bytes.len()))
                }
                Piece::Image(FoundImage { image: Err(r), .. }) => shown.push_str(&r.note()),
            }
        }
        (shown, pieces)
    }

    #[test]
    fn chinese_text_around_an_image_and_https_images_pass_through() {
        let answer = format!(
            "销售额如下：\n\n![销售图]({})\n\n第二季度增长最快！见 ![官网图](https://example.com/a.png)。",
            data_url(PNG)
        );
        let (shown, _) = scan(&[&answer]);
        assert_eq!(
            shown,
            format!(
                "销售额如下：\n\n<IMG 销售图 {}>\n\n第二季度增长最快！见 ![官网图](https://example.com/a.png)。",
                PNG.len()
            )
        );
    }

    #[test]
    fn an_image_split_across_many_chunks_is_held_until_its_parenthesis() {
        let answer = format!("图表：![趋势]({})完毕。", data_url(PNG));
        // Three bytes at a time, at char boundaries.
        let mut chunks = Vec::new();
        let mut start = 0;
        while start < answer.len() {
            let mut end = (start + 3).min(answer.len());
            while !answer.is_char_boundary(end) {
                end += 1;
            }
            chunks.push(&answer[start..end]);
            start = end;
        }
        let mut s = ImageScanner::default();
        let mut shown = String::new();
        let mut images = 0;
        for c in &chunks {
            for p in s.push(c) {
                match p {
                    Piece::Text(t) => {
                        assert!(!t.contains("data:") && !t.contains("![趋"), "{t}");
                        shown.push_str(&t);
                    }
                    Piece::Image(i) => {
                        assert_eq!(i.image.unwrap().bytes, PNG);
                        images += 1;
                        shown.push_str("<IMG>");
                    }
                }
            }
        }
        assert!(s.finish().is_empty());
        assert_eq!(images, 1);
        assert_eq!(shown, "图表：<IMG>完毕。");
    }

    #[test]
    fn two_identical_images_are_both_found_with_the_same_bytes() {
        let url = data_url(PNG);
        let (shown, pieces) = scan(&[&format!("第一张![甲]({url})第二张![乙]({url})")]);
        assert_eq!(
            shown,
            format!("第一张<IMG 甲 {0}>第二张<IMG 乙 {0}>", PNG.len())
        );
        let bytes: Vec<_> = pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Image(FoundImage { image: Ok(i), .. }) => Some(&i.bytes),
                _ => None,
            })
            .collect();
        assert_eq!(bytes.len(), 2);
        assert_eq!(bytes[0], bytes[1]);
    }

    #[test]
    fn a_data_url_cut_off_at_the_end_becomes_a_note() {
        let url = data_url(PNG);
        let (shown, _) = scan(&["回答到此为止：", &format!("![图]({}", &url[..20])]);
        assert_eq!(
            shown,
            "回答到此为止：[图片未能上传 (image could not be uploaded): 图片数据不完整]"
        );
        // A possible image that never became one is shown as written.
        let (shown, _) = scan(&["感叹！", "![未完"]);
        assert_eq!(shown, "感叹！![未完");
    }

    #[test]
    fn non_image_and_invalid_data_urls_become_notes() {
        let (shown, _) = scan(&["文件：![说明](data:text/plain;base64,5L2g5aW9)结束"]);
        assert_eq!(
            shown,
            "文件：[图片未能上传 (image could not be uploaded): 不支持的类型 text/plain]结束"
        );
        let (shown, _) = scan(&["![矢量](data:image/svg+xml;base64,PHN2Zz4=)"]);
        assert!(shown.contains("不支持的类型 image/svg+xml"), "{shown}");
        let (shown, _) = scan(&["![坏](data:image/png;base64,@@@@)"]);
        assert!(shown.contains("图片数据无效"), "{shown}");
        // Exclamation marks and links that are not data images pass through unchanged.
        let (shown, _) = scan(&["好！[链接](data:x) !![a](b) ![c](dat)"]);
        assert_eq!(shown, "好！[链接](data:x) !![a](b) ![c](dat)");
    }

    #[test]
    fn a_huge_base64_run_is_not_kept_and_becomes_a_note() {
        let mut s = ImageScanner::with_limit(1000);
        let mut pieces = s.push("大图：![巨图](data:image/png;base64,");
        let block = "QUFB".repeat(1024);
        for _ in 0..100 {
            pieces.extend(s.push(&block));
            assert!(s.held_bytes() <= 1500, "{} bytes held", s.held_bytes());
        }
        pieces.extend(s.push(")之后的文字"));
        pieces.extend(s.finish());
        assert_eq!(
            pieces,
            vec![
                Piece::Text("大图：".into()),
                Piece::Image(FoundImage {
                    alt: "巨图".into(),
                    image: Err(Refusal::TooLarge)
                }),
                Piece::Text("之后的文字".into()),
            ]
        );
        assert_eq!(
            Refusal::TooLarge.note(),
            "[图片未能上传 (image could not be uploaded): 超过 20 MB]"
        );
    }
}
