//! `convlab bench conv --plot`: GFLOP/s against the swept variable (batch, channels, or the
//! problems themselves), one line per algorithm, one panel per direction, and the machine's
//! measured FMA peak as a dashed line, so a reader sees at once how far each kernel is from it.
//!
//! The x axis is categorical: the swept values at equal spacing, labelled as given (a sweep of
//! batch 1, 8, 32, 128 reads better so than on a linear scale). y starts at 0.

use crate::draw::svg::{num, Anchor, SvgDoc};
use crate::draw::svg_axes::{
    draw_axes, frame_in, nice_ticks, AxesText, Key, LegendEntry, MARKER_STYLE, TICK_FONT,
};

/// matplotlib's "tab10" colour cycle: enough for every algorithm and fused plan.
const PALETTE: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

/// One line: GFLOP/s at some of the x categories (`points`: category index, value).
#[derive(Clone, Debug)]
pub struct BenchSeries {
    pub label: String,
    pub points: Vec<(usize, f64)>,
}

/// One direction's chart.
#[derive(Clone, Debug)]
pub struct BenchPanel {
    pub title: String,
    pub series: Vec<BenchSeries>,
    /// Dashed horizontal lines: (label, GFLOP/s), e.g. ("FMA peak, 2 threads", 78.4).
    pub peaks: Vec<(String, f64)>,
}

const PANEL_W: f64 = 920.0;
const PANEL_H: f64 = 380.0;
/// The legend's column, right of the plot area: room for "im2col (patches)+relu+pool, chunks".
const LEGEND_W: f64 = 250.0;

/// The panels stacked top to bottom, sharing the x categories `x_labels`.
pub fn bench_plot(xlabel: &str, x_labels: &[String], panels: &[BenchPanel]) -> String {
    let mut doc = SvgDoc::new(PANEL_W, PANEL_H * panels.len().max(1) as f64);
    // One colour per label in every panel: the order labels first appear in.
    let mut labels: Vec<&str> = Vec::new();
    for s in panels.iter().flat_map(|p| &p.series) {
        if !labels.contains(&s.label.as_str()) {
            labels.push(&s.label);
        }
    }
    let colour = |label: &str| {
        let i = labels.iter().position(|&l| l == label).unwrap_or(0);
        PALETTE[i % PALETTE.len()]
    };
    for (i, panel) in panels.iter().enumerate() {
        draw_panel(
            &mut doc,
            i as f64 * PANEL_H,
            xlabel,
            x_labels,
            panel,
            &colour,
        );
    }
    doc.finish()
}

fn draw_panel(
    doc: &mut SvgDoc,
    top: f64,
    xlabel: &str,
    x_labels: &[String],
    panel: &BenchPanel,
    colour_of: &dyn Fn(&str) -> &'static str,
) {
    let values = panel
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .chain(panel.peaks.iter().map(|p| p.1))
        .filter(|v| v.is_finite());
    let highest = values.fold(0.0f64, f64::max);
    let y_top = if highest > 0.0 { highest * 1.08 } else { 1.0 };
    let categories = x_labels.len().max(1);
    let xr = (-0.5, categories as f64 - 0.5);
    let yt = nice_ticks(0.0, y_top, 5, false);
    let frame = frame_in(
        (0.0, top, PANEL_W - LEGEND_W, PANEL_H),
        xr,
        (0.0, y_top),
        &yt,
    );
    let text = AxesText {
        title: &panel.title,
        xlabel,
        ylabel: "GFLOP/s",
    };
    draw_axes(
        doc,
        &frame,
        &crate::draw::svg_axes::Ticks::none(),
        &yt,
        &text,
    );
    // The categories' labels, under their ticks.
    for (i, label) in x_labels.iter().enumerate() {
        let x = frame.px(i as f64);
        doc.line(
            x,
            frame.bottom(),
            x,
            frame.bottom() + 5.0,
            r##"stroke="#333""##,
        );
        let y = frame.bottom() + 8.0 + TICK_FONT;
        doc.text(x, y, TICK_FONT, Anchor::Middle, label);
    }
    // The plot area, with its y scale, for tests and tools that read the picture back.
    doc.raw(&format!(
        r#"<g class="plot-area" data-top="{}" data-bottom="{}" data-ymax="{}"/>"#,
        num(frame.top),
        num(frame.bottom()),
        y_top
    ));
    let mut legend = Vec::new();
    for (label, peak) in &panel.peaks {
        let y = frame.py(*peak);
        doc.line(frame.left, y, frame.right(), y, MARKER_STYLE);
        legend.push(LegendEntry {
            label,
            colour: "#555",
            key: Key::Dashed,
        });
    }
    for s in &panel.series {
        let colour = colour_of(&s.label);
        let points: Vec<(f64, f64)> = s
            .points
            .iter()
            .filter(|p| p.1.is_finite())
            .map(|&(x, v)| (frame.px(x as f64), frame.py(v)))
            .collect();
        if points.len() > 1 {
            let line = format!(r#"stroke="{colour}" stroke-width="2" stroke-linejoin="round""#);
            doc.polyline(&points, &line);
        }
        for (&(x, y), &(_, v)) in points.iter().zip(&s.points) {
            let style = format!(r#"fill="{colour}" data-gflops="{v}""#);
            doc.circle(x, y, 3.0, &style);
        }
        legend.push(LegendEntry {
            label: &s.label,
            colour,
            key: Key::Line,
        });
    }
    // One entry a line, in a column right of the plot area, so that no label is ever clipped.
    let x = frame.right() + 14.0;
    for (i, entry) in legend.iter().enumerate() {
        let y = frame.top + 8.0 + 16.0 * i as f64;
        match entry.key {
            Key::Dashed => doc.line(x, y - 4.0, x + 20.0, y - 4.0, MARKER_STYLE),
            _ => {
                let style = format!(r#"stroke="{}" stroke-width="2""#, entry.colour);
                doc.line(x, y - 4.0, x + 20.0, y - 4.0, &style);
            }
        }
        doc.text(x + 25.0, y, 11.0, Anchor::Start, entry.label);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::draw::svg::tests::{parse_svg, texts};

    #[test]
    fn points_sit_at_their_values_and_the_peak_is_drawn() {
        let panel = BenchPanel {
            title: "fwd".into(),
            series: vec![
                BenchSeries {
                    label: "im2col".into(),
                    points: vec![(0, 10.0), (1, 20.0)],
                },
                BenchSeries {
                    label: "direct <fast>".into(),
                    points: vec![(0, 30.0), (1, f64::NAN)],
                },
            ],
            peaks: vec![("FMA peak, 2 threads".into(), 80.0)],
        };
        let svg = bench_plot("batch", &["1".into(), "32".into()], &[panel]);
        assert_eq!(parse_svg(&svg, "polyline"), 1);
        assert_eq!(parse_svg(&svg, "circle"), 3);
        let all = texts(&svg);
        assert!(all.iter().any(|t| t == "direct <fast>"), "{all:?}");
        assert!(all.iter().any(|t| t == "32"));
        // y = top + height * (1 - v / ymax), as the plot area records.
        let attr = |name: &str| -> f64 {
            let at = svg.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
            svg[at..].split('"').next().unwrap().parse().unwrap()
        };
        let (top, bottom, ymax) = (attr("data-top"), attr("data-bottom"), attr("data-ymax"));
        assert!(ymax >= 80.0);
        let circle = svg
            .lines()
            .find(|l| l.contains("data-gflops=\"20\""))
            .unwrap();
        let cy: f64 = circle
            .split("cy=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            (cy - (bottom - (bottom - top) * 20.0 / ymax)).abs() < 0.05,
            "{cy}"
        );
    }
}
