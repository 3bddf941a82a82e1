//! What kind of picture a download is, from its first bytes (DingTalk's storage does not
//! always say): the four formats the gateway accepts by default (`docs/gateway.md`,
//! "Pictures").

/// The media type of a PNG, JPEG, GIF or WebP picture; `None` for anything else.
pub(super) fn media_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(b"\xff\xd8\xff") {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::media_type;

    #[test]
    fn the_formats_the_gateway_takes_are_recognised_by_their_bytes() {
        assert_eq!(
            media_type(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Some("image/png")
        );
        assert_eq!(
            media_type(b"\xff\xd8\xff\xe0\0\x10JFIF"),
            Some("image/jpeg")
        );
        assert_eq!(media_type(b"GIF89a\x01\0"), Some("image/gif"));
        assert_eq!(media_type(b"RIFF\x24\0\0\0WEBPVP8 "), Some("image/webp"));
    }

    #[test]
    fn other_bytes_are_not_a_picture_the_gateway_takes() {
        assert_eq!(media_type(b"BM\x36\0\0\0"), None, "BMP");
        assert_eq!(media_type("这不是图片".as_bytes()), None);
        assert_eq!(media_type(b"RIFF\x24\0\0\0WAVE"), None);
        assert_eq!(media_type(b""), None);
    }
}
