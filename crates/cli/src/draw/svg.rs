//! Writing SVG as text: the few elements the plots need, XML escaping, and text-width estimates.
//!
//! The plots use only rectangles, lines, polylines, circles and `font-family="sans-serif"` text, so
//! any browser or SVG viewer shows them without extra fonts. Coordinates are pixels with y
//! downwards, as in SVG.

use std::fmt::Write;

/// `s` with the five XML special characters replaced by entities, safe in text and attributes.
/// Control characters other than tab and newline are not allowed in XML 1.0 and become spaces.
pub fn escape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' => out.push(ch),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Approximate width in pixels of `s` in a sans-serif font of `size` pixels, used to size boxes
/// and margins so that text is neither clipped nor overlapping. The advance widths (in em) are
/// DejaVu Sans's, the usual `sans-serif` on Linux and wider than Helvetica or Arial, so the
/// estimate errs on the roomy side.
pub(crate) fn text_width(s: &str, size: f64) -> f64 {
    let em: f64 = s
        .chars()
        .map(|c| match c {
            'i' | 'j' | 'l' | 'I' => 0.28,
            '.' | ',' | ':' | ';' | '!' | '\'' => 0.34,
            ' ' => 0.32,
            '(' | ')' | '[' | ']' | '{' | '}' | '|' | 'f' | 't' | '-' => 0.4,
            'r' => 0.42,
            '_' => 0.5,
            'm' => 0.98,
            'w' | 'M' => 0.86,
            'W' => 0.99,
            '0'..='9' => 0.64,
            'A'..='Z' => 0.74,
            _ => 0.62,
        })
        .sum();
    em * size
}

/// A number for an attribute: two decimals are finer than any screen pixel.
pub(crate) fn num(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// Where a text's `x` sits: at its start, middle or end.
#[derive(Clone, Copy)]
pub(crate) enum Anchor {
    Start,
    Middle,
    End,
}

impl Anchor {
    fn as_str(self) -> &'static str {
        match self {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        }
    }
}

/// An SVG document under construction. Style strings passed to the methods are written as they
/// are, so they must come from this module's code, never from the caller's data; text content is
/// always escaped.
pub(crate) struct SvgDoc {
    out: String,
}

impl SvgDoc {
    /// A `width` x `height` document with a white background.
    pub(crate) fn new(width: f64, height: f64) -> Self {
        let (w, h) = (num(width), num(height));
        let mut out = String::new();
        let _ = writeln!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif">"#
        );
        let _ = writeln!(out, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
        Self { out }
    }

    /// Markup written as it is (for `<defs>` and groups made by this crate's code).
    pub(crate) fn raw(&mut self, markup: &str) {
        self.out.push_str(markup);
        self.out.push('\n');
    }

    pub(crate) fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, style: &str) {
        let _ = writeln!(
            self.out,
            r#"<rect x="{}" y="{}" width="{}" height="{}" {style}/>"#,
            num(x),
            num(y),
            num(w.max(0.0)),
            num(h.max(0.0))
        );
    }

    pub(crate) fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, style: &str) {
        let _ = writeln!(
            self.out,
            r#"<line x1="{}" y1="{}" x2="{}" y2="{}" {style}/>"#,
            num(x1),
            num(y1),
            num(x2),
            num(y2)
        );
    }

    pub(crate) fn polyline(&mut self, points: &[(f64, f64)], style: &str) {
        let pts: Vec<String> = points
            .iter()
            .map(|&(x, y)| format!("{},{}", num(x), num(y)))
            .collect();
        let _ = writeln!(
            self.out,
            r#"<polyline points="{}" fill="none" {style}/>"#,
            pts.join(" ")
        );
    }

    pub(crate) fn circle(&mut self, x: f64, y: f64, r: f64, style: &str) {
        let _ = writeln!(
            self.out,
            r#"<circle cx="{}" cy="{}" r="{}" {style}/>"#,
            num(x),
            num(y),
            num(r)
        );
    }

    /// `content` (escaped here) with its baseline at `y`, `size` pixels high.
    pub(crate) fn text(&mut self, x: f64, y: f64, size: f64, anchor: Anchor, content: &str) {
        self.styled_text(x, y, size, anchor, "", content);
    }

    /// Like [`Self::text`] with extra attributes (weight, fill, rotation).
    pub(crate) fn styled_text(
        &mut self,
        x: f64,
        y: f64,
        size: f64,
        anchor: Anchor,
        style: &str,
        content: &str,
    ) {
        let _ = writeln!(
            self.out,
            r#"<text x="{}" y="{}" font-size="{}" text-anchor="{}" {style}>{}</text>"#,
            num(x),
            num(y),
            num(size),
            anchor.as_str(),
            escape_xml(content)
        );
    }

    pub(crate) fn finish(mut self) -> String {
        self.out.push_str("</svg>\n");
        self.out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Parses `svg` as XML and checks the root is an `<svg>` element; returns how many elements
    /// with tag `count_tag` it has, so tests can check what was drawn.
    pub(crate) fn parse_svg(svg: &str, count_tag: &str) -> usize {
        let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        doc.descendants()
            .filter(|n| n.tag_name().name() == count_tag)
            .count()
    }

    /// Every `<text>` element's content, in order.
    pub(crate) fn texts(svg: &str) -> Vec<String> {
        let doc = roxmltree::Document::parse(svg).unwrap();
        doc.descendants()
            .filter(|n| n.tag_name().name() == "text")
            .map(|n| n.text().unwrap_or("").to_string())
            .collect()
    }

    #[test]
    fn escaping_survives_a_parser() {
        let nasty = "a<b & \"c\" > 'd' \u{1}";
        assert_eq!(
            escape_xml(nasty),
            "a&lt;b &amp; &quot;c&quot; &gt; &apos;d&apos;  "
        );
        let mut doc = SvgDoc::new(10.0, 10.0);
        doc.text(0.0, 0.0, 10.0, Anchor::Start, nasty);
        let svg = doc.finish();
        assert_eq!(parse_svg(&svg, "text"), 1);
        assert_eq!(texts(&svg), ["a<b & \"c\" > 'd'  "]);
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(num(3.0), "3");
        assert_eq!(num(2.50), "2.5");
        assert_eq!(num(-0.001), "0");
        assert_eq!(num(1.236), "1.24");
    }

    #[test]
    fn wider_text_measures_wider() {
        assert!(text_width("MMMM", 12.0) > text_width("iiii", 12.0));
        assert_eq!(text_width("", 12.0), 0.0);
    }
}
