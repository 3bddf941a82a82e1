//! The `CHART` answer: a small bar chart as a markdown `data:` image between Chinese sentences, as
//! a model that draws a chart answers (`![…](data:image/png;base64,…)`), and the same chart once more
//! at the end (a client uploads it once).

use base64::{engine::general_purpose::STANDARD, Engine};

/// A valid 24×16 RGB PNG of four blue bars (104 bytes).
const CHART_PNG_BASE64: &str = "iVBORw0KGgoAAAANSUhEUgAAABgAAAAQCAIAAACDRijCAAAAL0lEQVR42mP4TyXAMGQNks+/BkejBmHXNhQMQhOhqkFkaBtZBjk4OCALOYABGSIAYXKQfhmHk0EAAAAASUVORK5CYII=";

/// The PNG the `CHART` answer carries.
pub fn chart_png() -> Vec<u8> {
    STANDARD
        .decode(CHART_PNG_BASE64)
        .expect("the chart is valid base64")
}

/// The `CHART` answer's text.
pub(crate) fn chart_text() -> String {
    format!(
        "这是本季度的销售图表：\n\n![销售图表](data:image/png;base64,{CHART_PNG_BASE64})\n\n第四季度增长最快，其次是第二季度。\n\n再看一次同一张图：![销售图表](data:image/png;base64,{CHART_PNG_BASE64})"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_is_a_png_inside_a_markdown_data_image() {
        assert!(chart_png().starts_with(b"\x89PNG\r\n\x1a\n"));
        assert_eq!(chart_png().len(), 104);
        assert_eq!(
            chart_text()
                .matches("![销售图表](data:image/png;base64,iVBOR")
                .count(),
            2
        );
    }
}
