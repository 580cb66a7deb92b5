//! Line charts over epochs: the chapter's learning curves (`plt.plot(history.history['loss'])` and
//! friends), as self-contained SVG.
//!
//! Value `k` of a series (0-based) is drawn at x = epoch k + 1, as Keras numbers epochs. NaN and
//! infinite values are left out, leaving a gap in the line, and do not stretch the y scale; a point
//! with no finite neighbour is still drawn as a dot, so a one-epoch run shows something.
//!
//! The picture can be read back: each panel records its scale (`<g class="plot-area">` with the
//! pixel rows and values of its y range), and every dot its series, epoch and value
//! (`data-series="loss val" data-epoch="3" data-value="0.2871"`) with a `<title>` a browser shows
//! on hover.

use crate::draw::svg::{escape_xml, num, SvgDoc};
use crate::draw::svg_axes::{
    draw_axes, draw_legend, frame_in, nice_ticks, padded_range, AxesText, Frame, Key, LegendEntry,
    COLOURS, MARKER_STYLE,
};

/// A training history as Keras's `History.history` holds it: one value per epoch. The validation
/// vectors may be empty (training without validation data).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HistoryData {
    pub loss: Vec<f32>,
    pub accuracy: Vec<f32>,
    pub val_loss: Vec<f32>,
    pub val_accuracy: Vec<f32>,
}

/// One line: `values[k]` is the value at epoch k + 1.
#[derive(Clone, Copy, Debug)]
pub struct Series<'a> {
    pub label: &'a str,
    pub values: &'a [f32],
}

#[derive(Clone, Copy, Debug)]
pub struct ChartOpts<'a> {
    pub title: &'a str,
    pub xlabel: &'a str,
    pub ylabel: &'a str,
    /// A vertical dashed line at this epoch (1-based) with this label, e.g. the best epoch.
    pub marker: Option<(usize, &'a str)>,
    /// Size of the whole SVG in pixels.
    pub width: f64,
    pub height: f64,
}

impl<'a> ChartOpts<'a> {
    /// A 480 x 360 chart with no marker.
    pub fn new(title: &'a str, xlabel: &'a str, ylabel: &'a str) -> Self {
        Self {
            title,
            xlabel,
            ylabel,
            marker: None,
            width: 480.0,
            height: 360.0,
        }
    }
}

/// Series up to this length also get a dot at every value; longer ones are plain lines.
const DOTS_UP_TO: usize = 40;

/// One chart of `series` against epochs, with axes, ticks, legend and the optional marker.
pub fn line_chart(series: &[Series], opts: &ChartOpts) -> String {
    let mut doc = SvgDoc::new(opts.width, opts.height);
    draw_panel(&mut doc, (0.0, 0.0, opts.width, opts.height), series, opts);
    doc.finish()
}

/// The chapter's two learning-curve plots side by side: loss (train and validation) on the left,
/// accuracy on the right, with `best_epoch` (1-based, e.g. the epoch EarlyStopping restored)
/// marked on both.
pub fn learning_curves(history: &HistoryData, best_epoch: Option<usize>) -> String {
    let (panel_w, height) = (480.0, 360.0);
    let label = best_epoch.map(|e| format!("best epoch {e}"));
    let marker = best_epoch.zip(label.as_deref());
    let mut doc = SvgDoc::new(2.0 * panel_w, height);
    let loss = [
        Series {
            label: "train",
            values: &history.loss,
        },
        Series {
            label: "val",
            values: &history.val_loss,
        },
    ];
    let loss_opts = ChartOpts {
        marker,
        ..ChartOpts::new("Loss", "epoch", "loss")
    };
    draw_panel(&mut doc, (0.0, 0.0, panel_w, height), &loss, &loss_opts);
    let accuracy = [
        Series {
            label: "train",
            values: &history.accuracy,
        },
        Series {
            label: "val",
            values: &history.val_accuracy,
        },
    ];
    let acc_opts = ChartOpts {
        marker,
        ..ChartOpts::new("Accuracy", "epoch", "accuracy")
    };
    draw_panel(
        &mut doc,
        (panel_w, 0.0, panel_w, height),
        &accuracy,
        &acc_opts,
    );
    doc.finish()
}

/// Draws one chart into the rectangle `panel` = (x, y, w, h) of `doc`.
fn draw_panel(doc: &mut SvgDoc, panel: (f64, f64, f64, f64), series: &[Series], opts: &ChartOpts) {
    let epochs = series
        .iter()
        .map(|s| s.values.len())
        .max()
        .unwrap_or(0)
        .max(1);
    let xr = padded_range([1.0, epochs as f64]);
    let yr = padded_range(
        series
            .iter()
            .flat_map(|s| s.values.iter().map(|&v| v as f64)),
    );
    let xt = nice_ticks(xr.0, xr.1, 6, true);
    let yt = nice_ticks(yr.0, yr.1, 5, false);
    let frame = frame_in(panel, xr, yr, &yt);
    let text = AxesText {
        title: opts.title,
        xlabel: opts.xlabel,
        ylabel: opts.ylabel,
    };
    draw_axes(doc, &frame, &xt, &yt, &text);
    doc.raw(&format!(
        r#"<g class="plot-area" data-top="{}" data-bottom="{}" data-ymin="{}" data-ymax="{}"/>"#,
        frame.top,
        frame.bottom(),
        frame.y.0,
        frame.y.1
    ));

    // The marker goes under the curves; its label goes in the legend rather than beside the line,
    // where it could cover a curve.
    let marker = opts
        .marker
        .filter(|&(epoch, _)| (1..=epochs).contains(&epoch));
    if let Some((epoch, _)) = marker {
        let x = frame.px(epoch as f64);
        doc.line(x, frame.top, x, frame.bottom(), MARKER_STYLE);
    }
    let mut legend = Vec::new();
    for (i, s) in series.iter().enumerate() {
        if s.values.is_empty() {
            continue;
        }
        let colour = COLOURS[i % COLOURS.len()];
        let name = format!("{} {}", opts.ylabel, s.label);
        draw_series(doc, &frame, s.values, colour, &name);
        legend.push(LegendEntry {
            label: s.label,
            colour,
            key: Key::Line,
        });
    }
    if let Some((_, label)) = marker {
        legend.push(LegendEntry {
            label,
            colour: "#555",
            key: Key::Dashed,
        });
    }
    draw_legend(doc, &frame, &legend);
}

/// The finite values as runs of consecutive epochs; each run is one unbroken line.
fn finite_runs(values: &[f32]) -> Vec<Vec<(f64, f64)>> {
    let mut runs = Vec::new();
    let mut run = Vec::new();
    for (k, &v) in values.iter().enumerate() {
        if v.is_finite() {
            run.push(((k + 1) as f64, v as f64));
        } else if !run.is_empty() {
            runs.push(std::mem::take(&mut run));
        }
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}

fn draw_series(doc: &mut SvgDoc, f: &Frame, values: &[f32], colour: &str, name: &str) {
    let line = format!(r#"stroke="{colour}" stroke-width="2" stroke-linejoin="round""#);
    for run in finite_runs(values) {
        let points: Vec<(f64, f64)> = run.iter().map(|&(x, y)| (f.px(x), f.py(y))).collect();
        if points.len() > 1 {
            doc.polyline(&points, &line);
        }
        if points.len() == 1 || values.len() <= DOTS_UP_TO {
            for (&(x, y), &(epoch, value)) in points.iter().zip(&run) {
                let tip = escape_xml(&format!("epoch {epoch}: {name} {value:.4}"));
                doc.raw(&format!(
                    r#"<circle cx="{}" cy="{}" r="2.8" fill="{colour}" data-series="{}" data-epoch="{epoch}" data-value="{}" data-tip="{tip}"><title>{tip}</title></circle>"#,
                    num(x),
                    num(y),
                    escape_xml(name),
                    value as f32,
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::draw::svg::tests::{parse_svg, texts};

    fn history(epochs: usize) -> HistoryData {
        let e = |k: usize| k as f32 / epochs as f32;
        HistoryData {
            loss: (0..epochs).map(|k| 0.6 - 0.4 * e(k)).collect(),
            accuracy: (0..epochs).map(|k| 0.8 + 0.15 * e(k)).collect(),
            val_loss: (0..epochs).map(|k| 0.5 - 0.2 * e(k)).collect(),
            val_accuracy: (0..epochs).map(|k| 0.85 + 0.05 * e(k)).collect(),
        }
    }

    #[test]
    fn learning_curves_draw_four_lines_and_the_best_epoch() {
        let svg = learning_curves(&history(20), Some(7));
        assert_eq!(parse_svg(&svg, "polyline"), 4);
        let t = texts(&svg);
        assert_eq!(t.iter().filter(|s| *s == "best epoch 7").count(), 2);
        assert_eq!(
            svg.matches("stroke-dasharray").count(),
            2 * 2,
            "a line and a key per panel"
        );
        for label in [
            "Loss", "Accuracy", "epoch", "loss", "accuracy", "train", "val", "20",
        ] {
            assert!(t.iter().any(|s| s == label), "no text {label:?} in {t:?}");
        }
    }

    #[test]
    fn every_dot_sits_at_the_value_it_records() {
        let h = history(12);
        let svg = learning_curves(&h, None);
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let areas: Vec<_> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("plot-area"))
            .collect();
        assert_eq!(areas.len(), 2);
        let mut seen = 0;
        for dot in doc
            .descendants()
            .filter(|n| n.tag_name().name() == "circle")
        {
            let series = dot.attribute("data-series").unwrap();
            let epoch: usize = dot.attribute("data-epoch").unwrap().parse().unwrap();
            let expected = match series {
                "loss train" => h.loss[epoch - 1],
                "loss val" => h.val_loss[epoch - 1],
                "accuracy train" => h.accuracy[epoch - 1],
                "accuracy val" => h.val_accuracy[epoch - 1],
                other => panic!("unknown series {other}"),
            };
            let value: f32 = dot.attribute("data-value").unwrap().parse().unwrap();
            assert_eq!(value, expected);
            // Its height, read through its panel's scale, is the value (to a pixel's worth).
            let area = areas[usize::from(series.starts_with("accuracy"))];
            let attr = |k: &str| area.attribute(k).unwrap().parse::<f64>().unwrap();
            let (top, bottom) = (attr("data-top"), attr("data-bottom"));
            let (ymin, ymax) = (attr("data-ymin"), attr("data-ymax"));
            let cy: f64 = dot.attribute("cy").unwrap().parse().unwrap();
            let read = ymin + (bottom - cy) / (bottom - top) * (ymax - ymin);
            let pixel = (ymax - ymin) / (bottom - top);
            assert!((read - expected as f64).abs() <= pixel, "{series} {epoch}");
            seen += 1;
        }
        assert_eq!(seen, 4 * 12);
    }

    #[test]
    fn nan_values_leave_gaps_and_keep_the_scale() {
        let mut h = history(10);
        h.loss[3] = f32::NAN;
        h.loss[4] = f32::INFINITY;
        h.val_loss = vec![f32::NAN; 10];
        let svg = learning_curves(&h, Some(3));
        // loss splits into two runs; val_loss draws nothing; both accuracies draw one line each.
        assert_eq!(parse_svg(&svg, "polyline"), 4);
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        // The y ticks of the loss panel stay within the data (no label from an infinity).
        assert!(texts(&svg).iter().all(|t| t.len() < 16));
    }

    #[test]
    fn one_epoch_draws_dots() {
        let svg = learning_curves(&history(1), Some(1));
        assert_eq!(parse_svg(&svg, "polyline"), 0);
        assert_eq!(parse_svg(&svg, "circle"), 4);
        assert!(texts(&svg).iter().any(|t| t == "1"));
    }

    #[test]
    fn empty_history_and_missing_validation_still_draw() {
        let svg = learning_curves(&HistoryData::default(), None);
        assert_eq!(parse_svg(&svg, "polyline"), 0);
        let mut h = history(5);
        h.val_loss.clear();
        h.val_accuracy.clear();
        let svg = learning_curves(&h, Some(99));
        assert_eq!(parse_svg(&svg, "polyline"), 2);
        // An out-of-range marker is left out, and so are the empty series' legend entries.
        let t = texts(&svg);
        assert!(!t.iter().any(|s| s.starts_with("best")));
        assert!(!t.iter().any(|s| s == "val"));
    }

    #[test]
    fn line_chart_escapes_labels() {
        let values = [1.0, 2.0, 3.0];
        let opts = ChartOpts::new("a < b & c", "x", "y");
        let svg = line_chart(
            &[Series {
                label: "\"q\"",
                values: &values,
            }],
            &opts,
        );
        assert_eq!(parse_svg(&svg, "polyline"), 1);
        assert!(texts(&svg).iter().any(|t| t == "a < b & c"));
    }

    #[test]
    fn runs_split_at_non_finite_values() {
        let runs = finite_runs(&[1.0, f32::NAN, 2.0, 3.0, f32::NEG_INFINITY]);
        assert_eq!(runs, vec![vec![(1.0, 1.0)], vec![(3.0, 2.0), (4.0, 3.0)]]);
    }
}
