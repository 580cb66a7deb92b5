//! The confusion matrix as a heat map, as scikit-learn's `ConfusionMatrixDisplay` draws it: rows
//! are the true classes, columns the predicted ones, each cell printed with its count and
//! coloured by the share of its row (so a rare class's mistakes show as clearly as a common
//! one's), viridis from 0 to 1.
//!
//! Every cell is a `<rect>` carrying its numbers (`data-true`, `data-pred`, `data-count`,
//! `data-share`) and a `<title>` that a browser shows on hover, so the picture can be checked
//! against the counts it shows and read without a legend.

use crate::draw::colormap::viridis;
use crate::draw::svg::{escape_xml, num, text_width, Anchor, SvgDoc};

const CELL: f64 = 44.0;
const FONT: f64 = 11.0;

/// `counts[t][p]`: images of true class `t` predicted as `p`; `labels` names the classes (as
/// many as `counts` has rows, and every row that long). Returns the SVG text.
pub fn confusion_heat_map(counts: &[Vec<usize>], labels: &[&str]) -> String {
    let n = counts.len();
    let label_w = labels
        .iter()
        .map(|l| text_width(l, FONT))
        .fold(0.0, f64::max)
        + 12.0;
    // The column labels stand rotated above the cells; the row labels sit to the left.
    let (left, top) = (label_w + 24.0, label_w + 24.0);
    let (width, height) = (left + CELL * n as f64 + 12.0, top + CELL * n as f64 + 30.0);
    let mut doc = SvgDoc::new(width, height);
    doc.styled_text(
        left + CELL * n as f64 / 2.0,
        height - 8.0,
        12.0,
        Anchor::Middle,
        "",
        "predicted class",
    );
    doc.styled_text(
        14.0,
        top + CELL * n as f64 / 2.0,
        12.0,
        Anchor::Middle,
        &format!(
            r#"transform="rotate(-90 14 {})""#,
            num(top + CELL * n as f64 / 2.0)
        ),
        "true class",
    );
    for (i, label) in labels.iter().enumerate().take(n) {
        let y = top + CELL * (i as f64 + 0.5) + FONT / 3.0;
        doc.text(left - 6.0, y, FONT, Anchor::End, label);
        let x = left + CELL * (i as f64 + 0.5) + FONT / 3.0;
        doc.styled_text(
            x,
            top - 6.0,
            FONT,
            Anchor::Start,
            &format!(r#"transform="rotate(-90 {} {})""#, num(x), num(top - 6.0)),
            label,
        );
    }
    for (t, row) in counts.iter().enumerate() {
        let total: usize = row.iter().sum();
        for (p, &count) in row.iter().enumerate() {
            let share = if total == 0 {
                0.0
            } else {
                count as f64 / total as f64
            };
            let [r, g, b] = viridis(share as f32);
            let (x, y) = (left + CELL * p as f64, top + CELL * t as f64);
            let tip = format!(
                "true {}, predicted {}: {count} of {total} ({:.1}%)",
                labels.get(t).unwrap_or(&"?"),
                labels.get(p).unwrap_or(&"?"),
                share * 100.0
            );
            doc.raw(&format!(
                r#"<rect class="cell" x="{}" y="{}" width="{CELL}" height="{CELL}" fill="rgb({r},{g},{b})" stroke="white" data-true="{t}" data-pred="{p}" data-count="{count}" data-share="{share:.4}" data-tip="{tip}"><title>{tip}</title></rect>"#,
                num(x),
                num(y),
                tip = escape_xml(&tip),
            ));
            // Dark text on viridis's bright end, white on its dark end.
            let fill = if share > 0.55 { "#222" } else { "white" };
            doc.styled_text(
                x + CELL / 2.0,
                y + CELL / 2.0 + FONT / 3.0,
                FONT,
                Anchor::Middle,
                &format!(r#"fill="{fill}" pointer-events="none""#),
                &count.to_string(),
            );
        }
    }
    doc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cell_carries_its_count_and_shows_it() {
        let counts = vec![vec![8, 2, 0], vec![1, 9, 0], vec![0, 0, 0]];
        let svg = confusion_heat_map(&counts, &["a<b", "b", "c"]);
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let cells: Vec<_> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("cell"))
            .collect();
        assert_eq!(cells.len(), 9);
        for cell in &cells {
            let t: usize = cell.attribute("data-true").unwrap().parse().unwrap();
            let p: usize = cell.attribute("data-pred").unwrap().parse().unwrap();
            let count: usize = cell.attribute("data-count").unwrap().parse().unwrap();
            assert_eq!(count, counts[t][p]);
            // The printed number is the next <text> after the cell.
            let text = cell
                .next_siblings()
                .find(|n| n.tag_name().name() == "text")
                .unwrap();
            assert_eq!(text.text(), Some(count.to_string().as_str()));
        }
        // The row's share decides the colour: 8 of 10 is brighter (greener) than 2 of 10, and a
        // class with no images is all at 0.
        let fill = |t: usize, p: usize| {
            let (t, p) = (t.to_string(), p.to_string());
            let cell = cells.iter().find(|c| {
                c.attribute("data-true") == Some(t.as_str())
                    && c.attribute("data-pred") == Some(p.as_str())
            });
            cell.unwrap().attribute("fill").unwrap().to_string()
        };
        let [r, g, b] = viridis(0.8);
        assert_eq!(fill(0, 0), format!("rgb({r},{g},{b})"));
        let [r, g, b] = viridis(0.0);
        assert_eq!(fill(2, 2), format!("rgb({r},{g},{b})"));
        assert!(svg.contains("true a&lt;b, predicted b: 2 of 10 (20.0%)"));
    }
}
