//! The chapter's 8-1 pictures as SVG: grids of numbers side by side (input, kernel, output),
//! padding cells shaded, the window being computed outlined on the input and its output cell on
//! the output, with the operator between panels (`convlab explain ... --svg`).

use super::svg::escape_xml;

/// One grid of numbers and what to mark on it.
#[derive(Clone, Debug)]
pub struct Panel {
    pub title: String,
    /// Rows of (text, shaded) cells; shaded cells are padding.
    pub cells: Vec<Vec<(String, bool)>>,
    /// A rectangle to outline: (row, col, rows, cols).
    pub outline: Option<(usize, usize, usize, usize)>,
}

const CELL: usize = 44;
const GAP: usize = 56;
const TOP: usize = 40;

/// The panels left to right, with `operators[i]` drawn between panel i and i + 1.
pub fn grid_figure(panels: &[Panel], operators: &[&str]) -> String {
    let width_of = |p: &Panel| p.cells.iter().map(Vec::len).max().unwrap_or(0) * CELL;
    let total_w: usize = panels.iter().map(width_of).sum::<usize>() + GAP * (panels.len() + 1);
    let total_h = panels.iter().map(|p| p.cells.len()).max().unwrap_or(0) * CELL + TOP + 24;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{total_w}\" height=\"{total_h}\" \
         viewBox=\"0 0 {total_w} {total_h}\" font-family=\"sans-serif\" font-size=\"13\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    let mut x0 = GAP;
    for (i, p) in panels.iter().enumerate() {
        svg.push_str(&format!(
            "<text x=\"{x0}\" y=\"24\" font-weight=\"bold\">{}</text>\n",
            escape_xml(&p.title)
        ));
        for (r, row) in p.cells.iter().enumerate() {
            for (c, (text, shaded)) in row.iter().enumerate() {
                let (x, y) = (x0 + c * CELL, TOP + r * CELL);
                let fill = if *shaded { "#e4e4e4" } else { "#ffffff" };
                svg.push_str(&format!(
                    "<rect class=\"cell\" x=\"{x}\" y=\"{y}\" width=\"{CELL}\" height=\"{CELL}\" \
                     fill=\"{fill}\" stroke=\"#888\"/>\n<text x=\"{}\" y=\"{}\" \
                     text-anchor=\"middle\">{}</text>\n",
                    x + CELL / 2,
                    y + CELL / 2 + 5,
                    escape_xml(text)
                ));
            }
        }
        if let Some((r, c, h, w)) = p.outline {
            svg.push_str(&format!(
                "<rect class=\"window\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" \
                 fill=\"none\" stroke=\"#d62728\" stroke-width=\"3\"/>\n",
                x0 + c * CELL,
                TOP + r * CELL,
                w * CELL,
                h * CELL
            ));
        }
        x0 += width_of(p) + GAP;
        if let Some(op) = operators.get(i) {
            svg.push_str(&format!(
                "<text x=\"{}\" y=\"{}\" font-size=\"22\" text-anchor=\"middle\">{}</text>\n",
                x0 - GAP / 2,
                TOP + CELL,
                escape_xml(op)
            ));
        }
    }
    svg.push_str("</svg>\n");
    svg
}
