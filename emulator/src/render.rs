//! Markdown to HTML as DingTalk shows it, for pages that display what users would see (the demo's
//! browser simulator renders each card's and each robot message's markdown with it).
//!
//! DingTalk's AI Card markdown component and the robot `markdown` message follow the same rules, so one
//! renderer serves both:
//!
//! * CommonMark plus GFM tables and strikethrough;
//! * a single newline inside a paragraph is a soft break and shows as a space (DingTalk ignores a lone
//!   `\n`, which is why the plugin writes `<br>`); `<br>`, `<br/>` and `<br />` (any case) are line breaks,
//!   and so are hard breaks (two trailing spaces, a trailing backslash); every break is written `<br>`;
//! * every other raw HTML, inline or block, is escaped and shown as text, never passed through;
//! * links keep only `http:`, `https:` and `dingtalk:` URLs; any other link shows its text only;
//! * images keep `http:`/`https:` URLs and DingTalk media ids (`@lADP…`, from uploads) as their `src`;
//!   any other image shows its alt text only.
//!
//! The output is safe to assign to `innerHTML`: no tag or attribute comes from the input except the
//! markdown constructs above, and URLs are limited to the schemes listed.

use pulldown_cmark::{html, CowStr, Event, Options, Parser, Tag, TagEnd};

/// The line break every break renders as.
const BREAK: &str = "<br>";

/// Renders markdown as a DingTalk AI Card's markdown component (and the robot `markdown` message)
/// shows it; see the module docs for the rules. Pure function, any thread.
pub fn card_markdown_html(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let mut events = Vec::new();
    // Per open link/image: whether its start tag was kept (its end tag follows the same choice).
    let mut links: Vec<bool> = Vec::new();
    let mut images: Vec<bool> = Vec::new();
    for event in Parser::new_ext(markdown, options) {
        let in_image = !images.is_empty();
        match event {
            Event::SoftBreak => events.push(Event::Text(" ".into())),
            Event::HardBreak => events.push(line_break(in_image)),
            Event::InlineHtml(raw) | Event::Html(raw) => {
                events.extend(raw_html(&raw, in_image));
            }
            // Raw HTML blocks are shown as text, in a paragraph of their own.
            Event::Start(Tag::HtmlBlock) => events.push(Event::Start(Tag::Paragraph)),
            Event::End(TagEnd::HtmlBlock) => {
                trim_trailing_newline(&mut events);
                events.push(Event::End(TagEnd::Paragraph));
            }
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => {
                let keep = link_allowed(&dest_url);
                links.push(keep);
                if keep {
                    events.push(Event::Start(Tag::Link {
                        link_type,
                        dest_url,
                        title,
                        id,
                    }));
                }
            }
            Event::End(TagEnd::Link) => {
                if links.pop().unwrap_or(false) {
                    events.push(Event::End(TagEnd::Link));
                }
            }
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }) => {
                let keep = image_allowed(&dest_url);
                images.push(keep);
                if keep {
                    events.push(Event::Start(Tag::Image {
                        link_type,
                        dest_url,
                        title,
                        id,
                    }));
                }
            }
            Event::End(TagEnd::Image) => {
                if images.pop().unwrap_or(false) {
                    events.push(Event::End(TagEnd::Image));
                }
            }
            other => events.push(other),
        }
    }
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, events.into_iter());
    out
}

/// A line break; inside an image's alt text (plain text) a space.
fn line_break(in_image: bool) -> Event<'static> {
    if in_image {
        Event::Text(" ".into())
    } else {
        Event::InlineHtml(BREAK.into())
    }
}

/// Raw HTML as DingTalk shows it: `<br>` variants become line breaks, everything else is text.
fn raw_html<'a>(raw: &str, in_image: bool) -> Vec<Event<'a>> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut rest = raw;
    while let Some(at) = rest.find('<') {
        match br_tag_len(&rest[at..]) {
            Some(len) => {
                text.push_str(&rest[..at]);
                if !text.is_empty() {
                    out.push(Event::Text(CowStr::from(std::mem::take(&mut text))));
                }
                out.push(line_break(in_image));
                rest = &rest[at + len..];
            }
            None => {
                text.push_str(&rest[..=at]);
                rest = &rest[at + 1..];
            }
        }
    }
    text.push_str(rest);
    if !text.is_empty() {
        out.push(Event::Text(CowStr::from(text)));
    }
    out
}

/// The length of a `<br>`, `<br/>` or `<br />` tag (any case, spaces before the `/` or `>`) at the start of
/// `s`.
fn br_tag_len(s: &str) -> Option<usize> {
    let name = s.get(..3)?;
    if !name.eq_ignore_ascii_case("<br") {
        return None;
    }
    let after = &s[3..];
    let spaces = after.len() - after.trim_start().len();
    let rest = &after[spaces..];
    let slash = usize::from(rest.starts_with('/'));
    rest[slash..]
        .starts_with('>')
        .then_some(3 + spaces + slash + 1)
}

/// Drops the newline that ends the last line of a raw HTML block shown as text.
fn trim_trailing_newline(events: &mut [Event<'_>]) {
    if let Some(Event::Text(text)) = events.last_mut() {
        if let Some(trimmed) = text.strip_suffix('\n') {
            *text = CowStr::from(trimmed.to_string());
        }
    }
}

/// True for a URL whose scheme (ASCII case-insensitive) is one of `schemes`.
fn has_scheme(url: &str, schemes: &[&str]) -> bool {
    schemes.iter().any(|scheme| {
        url.get(..scheme.len())
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case(scheme))
    })
}

/// Links DingTalk opens: web pages and `dingtalk:` app links.
fn link_allowed(url: &str) -> bool {
    has_scheme(url, &["http:", "https:", "dingtalk:"])
}

/// Images DingTalk shows: web URLs and its own media ids (`@lADP…`: `@` and base64-like characters).
fn image_allowed(url: &str) -> bool {
    let media_id = url.strip_prefix('@').is_some_and(|id| {
        !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '='))
    });
    media_id || has_scheme(url, &["http:", "https:"])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn br_tags() {
        assert_eq!(br_tag_len("<br>x"), Some(4));
        assert_eq!(br_tag_len("<BR/>"), Some(5));
        assert_eq!(br_tag_len("<br />"), Some(6));
        assert_eq!(br_tag_len("<br  >"), Some(6));
        for no in ["<b>", "<brx>", "<br", "<br / >", "<bra>"] {
            assert_eq!(br_tag_len(no), None, "{no}");
        }
    }

    #[test]
    fn schemes() {
        assert!(link_allowed("https://open.dingtalk.com/"));
        assert!(link_allowed("HTTP://例子.cn"));
        assert!(link_allowed("dingtalk://dingtalkclient/page/link?url=x"));
        for no in [
            "javascript:alert(1)",
            "data:text/html,x",
            "/relative",
            "#top",
            "vbscript:x",
            "mailto:a@b.c",
        ] {
            assert!(!link_allowed(no), "{no}");
        }
        assert!(image_allowed("@lADPDetfXH_Pn5LNAhDNAhA"));
        assert!(image_allowed("https://img.example.com/a.png"));
        for no in [
            "@",
            "@a b",
            "@x\"onerror=",
            "javascript:x",
            "data:image/png;base64,AAAA",
            "dingtalk://x",
        ] {
            assert!(!image_allowed(no), "{no}");
        }
    }
}
