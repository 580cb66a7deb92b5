//! Histograms of weights: the chapter's `plt.hist(conv_weights.reshape(-1, 1))`, as SVG.
//!
//! Binning follows numpy's `np.histogram`: `bins` equal-width bins from the smallest to the largest
//! value, each bin half-open `[left, right)` except the last, which includes its right edge. Data
//! with a single distinct value gets the range value ± 0.5, as numpy does, so it draws one bar in
//! the middle instead of dividing by a zero width. NaN and infinite values are not binned; they are
//! counted and named in the title.

use crate::draw::svg::SvgDoc;
use crate::draw::svg_axes::{
    draw_axes, draw_legend, frame_in, nice_ticks, padded_range, AxesText, Key, LegendEntry, COLOURS,
};

/// The result of binning: `counts[i]` values fell in `edges[i]..edges[i + 1]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Bins {
    /// `counts.len() + 1` increasing edges.
    pub edges: Vec<f64>,
    pub counts: Vec<usize>,
    /// Values left out because they were NaN.
    pub nan: usize,
    /// Values left out because they were +inf or -inf.
    pub infinite: usize,
}

/// Counts `values` into `bins` equal-width bins over their finite range (a `bins` of 0 counts as 1).
pub fn bin_counts(values: &[f32], bins: usize) -> Bins {
    let (lo, hi) = bin_range(values.iter());
    bin_counts_in(values, bins, lo, hi)
}

/// numpy's range rule: min..max of the finite values, widened by 0.5 each side when that is empty,
/// and 0..1 when there are no finite values.
fn bin_range<'a>(values: impl Iterator<Item = &'a f32>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v as f64), hi.max(v as f64))
        });
    if lo > hi {
        (0.0, 1.0)
    } else if lo == hi {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    }
}

/// Counts the finite `values` that lie in lo..=hi (lo < hi) into `bins` bins.
fn bin_counts_in(values: &[f32], bins: usize, lo: f64, hi: f64) -> Bins {
    let bins = bins.max(1);
    let width = hi - lo;
    let mut edges: Vec<f64> = (0..bins)
        .map(|k| lo + width * k as f64 / bins as f64)
        .collect();
    edges.push(hi);
    let mut out = Bins {
        counts: vec![0; bins],
        edges,
        nan: 0,
        infinite: 0,
    };
    for &v in values {
        if v.is_nan() {
            out.nan += 1;
            continue;
        }
        if v.is_infinite() {
            out.infinite += 1;
            continue;
        }
        let v = v as f64;
        if v < lo || v > hi {
            continue;
        }
        let mut i = (((v - lo) / width * bins as f64) as usize).min(bins - 1);
        // The division can round across an edge; the edges themselves decide, as in numpy.
        if v < out.edges[i] {
            i -= 1;
        } else if i + 1 < bins && v >= out.edges[i + 1] {
            i += 1;
        }
        out.counts[i] += 1;
    }
    out
}

/// A histogram of `values` in `bins` bins with the x axis labelled `xlabel` and the y axis "count".
pub fn histogram(values: &[f32], bins: usize, title: &str, xlabel: &str) -> String {
    let b = bin_counts(values, bins);
    draw(&[(b, "")], title, xlabel)
}

/// Two histograms over the same bins, drawn see-through over each other with a legend, e.g. the
/// chapter's trained and untrained kernels: `labels` name `a` and `b`.
pub fn histogram_compare(
    a: &[f32],
    b: &[f32],
    labels: [&str; 2],
    bins: usize,
    title: &str,
    xlabel: &str,
) -> String {
    let (lo, hi) = bin_range(a.iter().chain(b));
    let sets = [
        (bin_counts_in(a, bins, lo, hi), labels[0]),
        (bin_counts_in(b, bins, lo, hi), labels[1]),
    ];
    draw(&sets, title, xlabel)
}

/// "title (3 NaN, 1 inf ignored)", naming what the bins left out.
fn title_with_note(title: &str, sets: &[(Bins, &str)]) -> String {
    let nan: usize = sets.iter().map(|(b, _)| b.nan).sum();
    let inf: usize = sets.iter().map(|(b, _)| b.infinite).sum();
    let note = match (nan, inf) {
        (0, 0) => return title.to_string(),
        (n, 0) => format!("{n} NaN"),
        (0, i) => format!("{i} inf"),
        (n, i) => format!("{n} NaN, {i} inf"),
    };
    format!("{title} ({note} ignored)")
}

fn draw(sets: &[(Bins, &str)], title: &str, xlabel: &str) -> String {
    let (width, height) = (520.0, 360.0);
    let mut doc = SvgDoc::new(width, height);
    let edges = &sets[0].0.edges;
    let xr = padded_range([edges[0], edges[edges.len() - 1]]);
    let top = sets
        .iter()
        .flat_map(|(b, _)| b.counts.iter())
        .copied()
        .max()
        .unwrap_or(0);
    // Bars stand on the x axis, so the range starts at 0 exactly.
    let yr = (0.0, (top.max(1) as f64) * 1.05);
    let xt = nice_ticks(xr.0, xr.1, 6, false);
    let yt = nice_ticks(yr.0, yr.1, 5, true);
    let frame = frame_in((0.0, 0.0, width, height), xr, yr, &yt);
    let title = title_with_note(title, sets);
    let text = AxesText {
        title: &title,
        xlabel,
        ylabel: "count",
    };
    draw_axes(&mut doc, &frame, &xt, &yt, &text);

    let overlaid = sets.len() > 1;
    for (k, (bins, _)) in sets.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        // One bar alone gets a thin white edge to separate neighbours; overlaid bars are
        // see-through so that both distributions stay visible.
        let style = if overlaid {
            format!(r#"fill="{colour}" fill-opacity="0.5""#)
        } else {
            format!(r#"fill="{colour}" stroke="white" stroke-width="0.5""#)
        };
        for (i, &count) in bins.counts.iter().enumerate() {
            if count == 0 {
                continue;
            }
            let (x0, x1) = (frame.px(bins.edges[i]), frame.px(bins.edges[i + 1]));
            let y = frame.py(count as f64);
            doc.rect(x0, y, x1 - x0, frame.py(0.0) - y, &style);
        }
    }
    if overlaid {
        let entries: Vec<LegendEntry> = sets
            .iter()
            .enumerate()
            .map(|(k, (_, label))| LegendEntry {
                label,
                colour: COLOURS[k % COLOURS.len()],
                key: Key::Patch,
            })
            .collect();
        draw_legend(&mut doc, &frame, &entries);
    }
    doc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::draw::svg::tests::{parse_svg, texts};

    /// Expected counts from numpy: `np.histogram([1, 2, 2, 3, 3, 3], bins=3)` gives
    /// `([1, 2, 3], [1., 1.667, 2.333, 3.])`.
    #[test]
    fn counts_match_numpy() {
        let b = bin_counts(&[1.0, 2.0, 2.0, 3.0, 3.0, 3.0], 3);
        assert_eq!(b.counts, [1, 2, 3]);
        assert_eq!(b.edges.len(), 4);
        assert!((b.edges[1] - 5.0 / 3.0).abs() < 1e-12);
        assert_eq!((b.edges[0], b.edges[3]), (1.0, 3.0));
    }

    /// `np.histogram([0, 0.25, 0.5, 0.75, 1], bins=4)` gives `[1, 1, 1, 2]`: values on an inner
    /// edge go right, the maximum goes into the last bin.
    #[test]
    fn edges_are_half_open_except_the_last() {
        let b = bin_counts(&[0.0, 0.25, 0.5, 0.75, 1.0], 4);
        assert_eq!(b.counts, [1, 1, 1, 2]);
        // 0.1 * 3 is not exactly 0.3 in floating point; the edge comparison still decides.
        let b = bin_counts(&[0.0, 0.1, 0.2, 0.3, 0.4, 1.0], 10);
        assert_eq!(b.counts, [1, 1, 1, 1, 1, 0, 0, 0, 0, 1]);
    }

    #[test]
    fn constant_and_empty_data() {
        // np.histogram([2, 2, 2], bins=10): range 1.5..2.5, all in bin 5.
        let b = bin_counts(&[2.0; 3], 10);
        assert_eq!((b.edges[0], b.edges[10]), (1.5, 2.5));
        assert_eq!(b.counts[5], 3);
        assert_eq!(b.counts.iter().sum::<usize>(), 3);
        let b = bin_counts(&[], 0);
        assert_eq!(
            (b.counts.clone(), b.edges.clone()),
            (vec![0], vec![0.0, 1.0])
        );
        let svg = histogram(&[2.0; 3], 10, "constant", "w");
        assert_eq!(parse_svg(&svg, "rect"), 3, "background, frame and one bar");
    }

    #[test]
    fn non_finite_values_are_counted_and_named() {
        let b = bin_counts(&[f32::NAN, 1.0, f32::INFINITY, 2.0, f32::NAN], 2);
        assert_eq!((b.counts, b.nan, b.infinite), (vec![1, 1], 2, 1));
        let svg = histogram(
            &[f32::NAN, 0.5, f32::NAN, 0.1, 0.9, f32::NAN],
            5,
            "weights",
            "value",
        );
        assert!(texts(&svg).iter().any(|t| t == "weights (3 NaN ignored)"));
        let svg = histogram(&[f32::NAN], 5, "all NaN", "value");
        assert!(texts(&svg).iter().any(|t| t == "all NaN (1 NaN ignored)"));
    }

    #[test]
    fn histogram_draws_one_bar_per_non_empty_bin() {
        let values: Vec<f32> = (0..100).map(|i| (i % 10) as f32 * 0.1).collect();
        let svg = histogram(&values, 10, "weights", "weight value");
        assert_eq!(parse_svg(&svg, "rect"), 2 + 10);
        let t = texts(&svg);
        for label in ["weights", "weight value", "count", "10"] {
            assert!(t.iter().any(|s| s == label), "no {label:?} in {t:?}");
        }
    }

    #[test]
    fn compare_shares_bins_and_has_a_legend() {
        let a = [-0.5, 0.0, 0.5];
        let b = [0.0, 0.1];
        let svg = histogram_compare(&a, &b, ["trained", "untrained & <new>"], 4, "kernels", "w");
        let t = texts(&svg);
        assert!(t.iter().any(|s| s == "trained"));
        assert!(t.iter().any(|s| s == "untrained & <new>"));
        // a fills bins 0, 2, 3; b fills bin 2 only (0.0 and 0.1 both in 0.0..0.25).
        assert_eq!(parse_svg(&svg, "rect"), 2 + 3 + 1 + 2);
    }
}
