//! `render::card_markdown_html`: DingTalk's markdown rules, and nothing from the input reaches the page as
//! markup.

use openclaw_dingtalk_emulator::render::card_markdown_html;

#[test]
fn a_lone_newline_is_a_space() {
    assert_eq!(
        card_markdown_html("第一行\n第二行"),
        "<p>第一行 第二行</p>\n"
    );
    assert_eq!(
        card_markdown_html("第一段\n\n第二段"),
        "<p>第一段</p>\n<p>第二段</p>\n",
        "a blank line still starts a paragraph"
    );
}

#[test]
fn br_tags_are_line_breaks() {
    assert_eq!(
        card_markdown_html("你好<br>世界<br/>再见<BR />明天"),
        "<p>你好<br>世界<br>再见<br>明天</p>\n"
    );
    assert_eq!(
        card_markdown_html("上一行  \n下一行"),
        "<p>上一行<br>下一行</p>\n",
        "a hard break too"
    );
    assert_eq!(
        card_markdown_html("<br>\n\n结尾"),
        "<p><br></p>\n<p>结尾</p>\n",
        "a <br> alone on a line (an HTML block)"
    );
}

#[test]
fn a_table_after_a_blank_line() {
    let html = card_markdown_html(
        "查询结果如下：\n\n| 城市 | 气温 |\n| --- | ---: |\n| 北京 | 5℃ |\n| 上海 | ~~12℃~~ 13℃ |",
    );
    assert!(html.starts_with("<p>查询结果如下：</p>\n<table>"), "{html}");
    assert!(html.contains("<th>城市</th>"), "{html}");
    assert!(html.contains("<td>北京</td>"), "{html}");
    assert!(
        html.contains("<th style=\"text-align: right\">气温</th>"),
        "{html}"
    );
    assert!(html.contains("<del>12℃</del> 13℃"), "strikethrough: {html}");
}

#[test]
fn code_blocks_escape_their_content() {
    let html = card_markdown_html("示例代码：\n\n```html\n<script>alert('你好')</script>\n```");
    assert_eq!(
        html,
        "<p>示例代码：</p>\n<pre><code class=\"language-html\">&lt;script&gt;alert('你好')&lt;/script&gt;\n</code></pre>\n"
    );
    assert!(!card_markdown_html("行内 `<b>粗</b>` 代码").contains("<b>"));
}

#[test]
fn raw_html_is_shown_as_text() {
    let inline = card_markdown_html("图片<img src=x onerror=alert(1)>在这里");
    assert_eq!(
        inline,
        "<p>图片&lt;img src=x onerror=alert(1)&gt;在这里</p>\n"
    );
    let block = card_markdown_html("<img src=x onerror=alert(1)>\n\n正文");
    assert_eq!(
        block,
        "<p>&lt;img src=x onerror=alert(1)&gt;</p>\n<p>正文</p>\n"
    );
    let div = card_markdown_html("<div onclick=\"steal()\">\n**不是粗体**\n</div>");
    assert_eq!(
        div, "<p>&lt;div onclick=\"steal()\"&gt;\n**不是粗体**\n&lt;/div&gt;</p>\n",
        "shown as typed (its newlines are spaces on the page)"
    );
    let script = card_markdown_html("<script>\nalert('块')\n</script>");
    assert!(!script.contains("<script"), "{script}");
    let comment = card_markdown_html("注释<!-- 隐藏 -->结束");
    assert!(comment.contains("&lt;!-- 隐藏 --&gt;"), "{comment}");
}

#[test]
fn links_keep_only_web_and_dingtalk_urls() {
    assert_eq!(
        card_markdown_html("[点我](javascript:alert(1))看看"),
        "<p>点我看看</p>\n",
        "a javascript: link is not a link"
    );
    assert_eq!(
        card_markdown_html("<javascript:alert(1)>"),
        "<p>javascript:alert(1)</p>\n"
    );
    assert_eq!(
        card_markdown_html("[钉钉开放平台](https://open.dingtalk.com/ \"文档\")"),
        "<p><a href=\"https://open.dingtalk.com/\" title=\"文档\">钉钉开放平台</a></p>\n"
    );
    assert!(
        card_markdown_html("[打开](dingtalk://dingtalkclient/page/link?url=x)")
            .contains("<a href=\"dingtalk://dingtalkclient/page/link?url=x\">打开</a>")
    );
    assert_eq!(
        card_markdown_html("[数据](data:text/html,<b>x</b>)"),
        "<p>数据</p>\n"
    );
    assert_eq!(card_markdown_html("[相对](/admin)"), "<p>相对</p>\n");
}

#[test]
fn images_keep_web_urls_and_media_ids() {
    assert_eq!(
        card_markdown_html("![架构图](https://img.example.com/架构.png)"),
        "<p><img src=\"https://img.example.com/%E6%9E%B6%E6%9E%84.png\" alt=\"架构图\" /></p>\n"
    );
    assert_eq!(
        card_markdown_html("![截图](@lADPDetfXH_Pn5LNAhDNAhA)"),
        "<p><img src=\"@lADPDetfXH_Pn5LNAhDNAhA\" alt=\"截图\" /></p>\n"
    );
    assert_eq!(
        card_markdown_html("![坏图](javascript:alert(1))"),
        "<p>坏图</p>\n"
    );
}

#[test]
fn what_the_plugin_writes_renders_as_intended() {
    let md = "**思考完成**<br>根据资料：<br>1. 第一点\n2. 第二点\n\n| 项目 | 状态 |\n|---|---|\n| 部署 | ✅ |";
    let html = card_markdown_html(md);
    assert!(
        html.starts_with(
            "<p><strong>思考完成</strong><br>根据资料：<br>1. 第一点 2. 第二点</p>\n<table>"
        ),
        "{html}"
    );
    assert!(html.contains("<td>✅</td>"), "{html}");
}

/// Every tag in `html`: its name and attribute names must be ones the renderer writes itself.
fn assert_only_markdown_markup(input: &str, html: &str) {
    const TAGS: [&str; 25] = [
        "p",
        "br",
        "strong",
        "em",
        "del",
        "code",
        "pre",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "a",
        "img",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "ul",
        "ol",
        "li",
        "blockquote",
    ];
    const ATTRIBUTES: [&str; 7] = ["href", "title", "src", "alt", "style", "class", "start"];
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        let tag = &rest[at + 1..];
        let end = tag
            .find('>')
            .unwrap_or_else(|| panic!("unclosed tag in {html:?} from {input:?}"));
        let closing = tag.starts_with('/');
        let tag = tag[..end].trim_start_matches('/').trim_end_matches('/');
        let mut parts = tag.split_whitespace();
        let name = parts.next().unwrap_or_default();
        assert!(
            TAGS.contains(&name) || name == "hr",
            "tag {name:?} in {html:?} from {input:?}"
        );
        // Attribute values are quoted and escaped: after removing them only names remain.
        let mut attributes = String::new();
        let mut quoted = false;
        for c in tag[name.len()..].chars() {
            match c {
                '"' => quoted = !quoted,
                _ if !quoted => attributes.push(c),
                _ => {}
            }
        }
        for attribute in attributes.split_whitespace() {
            let attribute = attribute.trim_end_matches('=');
            assert!(
                ATTRIBUTES.contains(&attribute),
                "attribute {attribute:?} in {html:?} from {input:?}"
            );
        }
        if !closing && (name == "a" || name == "img") {
            let url = tag.split('"').nth(1).unwrap_or_default();
            assert!(
                ["http:", "https:", "dingtalk:", "@"]
                    .iter()
                    .any(|s| url.starts_with(s)),
                "url {url:?} in {html:?} from {input:?}"
            );
        }
        rest = &rest[at + 1 + end..];
    }
}

#[test]
fn hostile_input_yields_only_markdown_markup() {
    let inputs = [
        "<script>alert('脚本')</script>",
        "前文<svg onload=alert(1)>后文",
        "<iframe src=\"javascript:alert(1)\"></iframe>",
        "[链接](javascript:alert(1) \"标题\")",
        "[链接](JaVaScRiPt:alert(1))",
        "[链接](\"onmouseover=alert(1))",
        "[链接](https://x.cn/\"onmouseover=\"alert(1))",
        "![图](x\" onerror=\"alert(1))",
        "![图\"onerror=\"alert(1)](https://x.cn/a.png)",
        "[链接](https://x.cn \"标题\\\" onclick=\\\"alert(1)\")",
        "```\"><img src=x onerror=alert(1)>\n代码\n```",
        "| 列 |\n|---|\n| <img src=x onerror=alert(1)> |",
        "> 引用 <a href=\"javascript:alert(1)\">点</a>",
        "<a href=\"https://x.cn\">真链接也不行</a>",
        "&lt;script&gt;实体&lt;/script&gt;",
        "<![CDATA[<script>alert(1)</script>]]>",
        "<?php echo 1; ?>",
        "<!DOCTYPE html>",
        "<BR onclick=alert(1)>换行",
        "1. 列表\n2. <b>粗</b>",
        "# 标题 <i>斜</i>",
        "<javascript:alert(1)>",
        "<mailto:a@b.cn>",
        "[引用式][1]\n\n[1]: javascript:alert(1)",
    ];
    for input in inputs {
        let html = card_markdown_html(input);
        assert_only_markdown_markup(input, &html);
        assert!(
            !html.contains("onerror=alert") || html.contains("&lt;"),
            "{html}"
        );
    }
}
