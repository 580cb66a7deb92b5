//! The chapter's model figure, `keras.utils.plot_model(model, show_shapes=True)`: one box per
//! layer, top to bottom, each with the layer's name and class and a small table of its input and
//! output shapes, and an arrow from each layer to the next.
//!
//! Two outputs with the same content: a self-contained SVG (no Graphviz needed) and Graphviz DOT
//! text in the record style Keras's own `model_to_dot` writes, for those who want `dot -Tpng`.
//!
//! ```text
//! +-------------------+---------+--------------------+
//! |                   | input:  | (None, 28, 28, 1)  |
//! |  conv2d: Conv2D   +---------+--------------------+
//! |                   | output: | (None, 28, 28, 32) |
//! +-------------------+---------+--------------------+
//! ```

use std::fmt::Write;

use crate::draw::svg::{num, text_width, Anchor, SvgDoc};

/// One layer as the figure shows it; shapes come preformatted, e.g. "(None, 28, 28, 1)".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerBox {
    pub name: String,
    /// The layer's class, e.g. "Conv2D".
    pub kind: String,
    pub input_shape: String,
    pub output_shape: String,
}

impl LayerBox {
    pub fn new(name: &str, kind: &str, input_shape: &str, output_shape: &str) -> Self {
        Self {
            name: name.to_string(),
            kind: kind.to_string(),
            input_shape: input_shape.to_string(),
            output_shape: output_shape.to_string(),
        }
    }

    /// "conv2d: Conv2D", the box's title as Keras writes it.
    fn title(&self) -> String {
        format!("{}: {}", self.name, self.kind)
    }
}

const NAME_FONT: f64 = 13.0;
const SHAPE_FONT: f64 = 12.0;
const ROW_H: f64 = 22.0;
const MARGIN: f64 = 20.0;
/// Vertical space between boxes, filled by the arrow.
const ARROW_GAP: f64 = 30.0;
/// Horizontal padding inside each cell, both sides together.
const CELL_PAD: f64 = 24.0;

/// The figure as SVG. Every box has the same column widths, sized from the longest text, so the
/// boxes line up as one table.
pub fn model_svg(layers: &[LayerBox]) -> String {
    if layers.is_empty() {
        let mut doc = SvgDoc::new(160.0, 60.0);
        doc.text(80.0, 34.0, NAME_FONT, Anchor::Middle, "(no layers)");
        return doc.finish();
    }
    let widest = |f: &dyn Fn(&LayerBox) -> f64| layers.iter().map(f).fold(0.0, f64::max);
    let col1 = widest(&|l| text_width(&l.title(), NAME_FONT)) + CELL_PAD;
    let col2 = text_width("output:", SHAPE_FONT) + CELL_PAD;
    let col3 = widest(&|l| {
        text_width(&l.input_shape, SHAPE_FONT).max(text_width(&l.output_shape, SHAPE_FONT))
    }) + CELL_PAD;
    let box_w = col1 + col2 + col3;
    let box_h = 2.0 * ROW_H;
    let n = layers.len() as f64;
    let width = box_w + 2.0 * MARGIN;
    let height = n * box_h + (n - 1.0) * ARROW_GAP + 2.0 * MARGIN;

    let mut doc = SvgDoc::new(width, height);
    doc.raw(
        r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#333"/></marker></defs>"##,
    );
    let line = r##"stroke="#333" stroke-width="1""##;
    let centre_x = MARGIN + box_w / 2.0;
    for (i, layer) in layers.iter().enumerate() {
        let (x, y) = (MARGIN, MARGIN + i as f64 * (box_h + ARROW_GAP));
        // Text baselines sit a little below the middle of their row, so the glyphs look centred.
        let baseline = |row: f64, font: f64| y + row * ROW_H + ROW_H / 2.0 + font * 0.35;
        doc.rect(x, y, col1, box_h, r##"fill="#e8f0fb""##);
        doc.rect(
            x,
            y,
            box_w,
            box_h,
            r##"fill="none" stroke="#333" stroke-width="1.2""##,
        );
        doc.line(x + col1, y, x + col1, y + box_h, line);
        doc.line(x + col1 + col2, y, x + col1 + col2, y + box_h, line);
        doc.line(x + col1, y + ROW_H, x + box_w, y + ROW_H, line);
        doc.text(
            x + col1 / 2.0,
            y + box_h / 2.0 + NAME_FONT * 0.35,
            NAME_FONT,
            Anchor::Middle,
            &layer.title(),
        );
        let (c2, c3) = (x + col1 + col2 / 2.0, x + col1 + col2 + col3 / 2.0);
        doc.text(
            c2,
            baseline(0.0, SHAPE_FONT),
            SHAPE_FONT,
            Anchor::Middle,
            "input:",
        );
        doc.text(
            c2,
            baseline(1.0, SHAPE_FONT),
            SHAPE_FONT,
            Anchor::Middle,
            "output:",
        );
        doc.text(
            c3,
            baseline(0.0, SHAPE_FONT),
            SHAPE_FONT,
            Anchor::Middle,
            &layer.input_shape,
        );
        doc.text(
            c3,
            baseline(1.0, SHAPE_FONT),
            SHAPE_FONT,
            Anchor::Middle,
            &layer.output_shape,
        );
        if i + 1 < layers.len() {
            let (y0, y1) = (y + box_h, y + box_h + ARROW_GAP);
            doc.raw(&format!(
                r##"<line x1="{cx}" y1="{}" x2="{cx}" y2="{}" stroke="#333" stroke-width="1.2" marker-end="url(#arrow)"/>"##,
                num(y0),
                num(y1 - 1.0),
                cx = num(centre_x)
            ));
        }
    }
    doc.finish()
}

/// The figure as Graphviz DOT: one record node per layer (`n0`, `n1`, ...; names are labels only,
/// so any name is safe) and an edge from each layer to the next.
pub fn model_dot(layers: &[LayerBox]) -> String {
    let mut out = String::from("digraph model {\n  rankdir=TB;\n");
    out.push_str("  node [shape=record, fontname=\"Helvetica\", fontsize=11];\n");
    for (i, l) in layers.iter().enumerate() {
        // With rankdir=TB a record's top-level fields run left to right and braces flip to top
        // to bottom: title | {input: | output:} | {in shape | out shape}, as Keras lays it out.
        let _ = writeln!(
            out,
            "  n{i} [label=\"{}|{{input:|output:}}|{{{}|{}}}\"];",
            escape_record(&l.title()),
            escape_record(&l.input_shape),
            escape_record(&l.output_shape)
        );
    }
    for i in 1..layers.len() {
        let _ = writeln!(out, "  n{} -> n{i};", i - 1);
    }
    out.push_str("}\n");
    out
}

/// Text safe inside a quoted DOT record label: the record syntax characters and the quote and
/// backslash of the string itself are backslash-escaped; control characters become spaces.
fn escape_record(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '"' | '{' | '}' | '|' | '<' | '>' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::draw::svg::tests::{parse_svg, texts};

    /// The chapter's model as `plot_model(model, show_shapes=True)` shows it (Keras 3 adds the
    /// InputLayer box).
    pub(crate) fn chapter_layers() -> Vec<LayerBox> {
        let rows = [
            (
                "input_layer",
                "InputLayer",
                "(None, 28, 28, 1)",
                "(None, 28, 28, 1)",
            ),
            (
                "conv2d",
                "Conv2D",
                "(None, 28, 28, 1)",
                "(None, 28, 28, 32)",
            ),
            (
                "max_pooling2d",
                "MaxPooling2D",
                "(None, 28, 28, 32)",
                "(None, 14, 14, 32)",
            ),
            (
                "conv2d_1",
                "Conv2D",
                "(None, 14, 14, 32)",
                "(None, 14, 14, 64)",
            ),
            (
                "max_pooling2d_1",
                "MaxPooling2D",
                "(None, 14, 14, 64)",
                "(None, 7, 7, 64)",
            ),
            ("flatten", "Flatten", "(None, 7, 7, 64)", "(None, 3136)"),
            ("dense", "Dense", "(None, 3136)", "(None, 100)"),
            ("dropout", "Dropout", "(None, 100)", "(None, 100)"),
            ("dense_1", "Dense", "(None, 100)", "(None, 10)"),
        ];
        rows.iter()
            .map(|&(n, k, i, o)| LayerBox::new(n, k, i, o))
            .collect()
    }

    #[test]
    fn svg_has_a_box_per_layer_and_arrows_between() {
        let layers = chapter_layers();
        let svg = model_svg(&layers);
        // Per box: a filled name cell and an outline; plus the background.
        assert_eq!(parse_svg(&svg, "rect"), 1 + 2 * layers.len());
        let arrows = svg.matches("marker-end").count();
        assert_eq!(arrows, layers.len() - 1);
        let t = texts(&svg);
        for l in &layers {
            assert!(t.contains(&format!("{}: {}", l.name, l.kind)));
            assert!(t.contains(&l.output_shape));
        }
    }

    #[test]
    fn dot_has_every_layer_and_n_minus_one_edges() {
        let layers = chapter_layers();
        let dot = model_dot(&layers);
        assert!(dot.starts_with("digraph model {"));
        assert!(dot.trim_end().ends_with('}'));
        for l in &layers {
            assert!(
                dot.contains(&format!("{}: {}|", l.name, l.kind)),
                "{}",
                l.name
            );
        }
        assert_eq!(dot.matches("->").count(), layers.len() - 1);
        assert!(dot.contains(
            r#"n1 [label="conv2d: Conv2D|{input:|output:}|{(None, 28, 28, 1)|(None, 28, 28, 32)}"];"#
        ));
    }

    #[test]
    fn hostile_names_are_escaped_in_both_outputs() {
        let layers = [LayerBox::new("a<b>|{c}", "\"Kind\"\\", "(1 & 2)", "x\ny")];
        let svg = model_svg(&layers);
        assert!(texts(&svg).contains(&"a<b>|{c}: \"Kind\"\\".to_string()));
        let dot = model_dot(&layers);
        assert!(
            dot.contains(r#"label="a\<b\>\|\{c\}: \"Kind\"\\|{input:|output:}|{(1 & 2)|x y}""#),
            "{dot}"
        );
    }

    #[test]
    fn no_layers_still_draws() {
        assert_eq!(parse_svg(&model_svg(&[]), "text"), 1);
        assert_eq!(model_dot(&[]), "digraph model {\n  rankdir=TB;\n  node [shape=record, fontname=\"Helvetica\", fontsize=11];\n}\n");
    }
}
