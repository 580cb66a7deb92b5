//! Axes for the SVG plots: "nice" tick values, the mapping from data to pixels, frame, ticks,
//! labels, title and legend, laid out so that no text is clipped.

use crate::draw::svg::{num, text_width, Anchor, SvgDoc};

/// matplotlib's default colour cycle ("tab10"), first four.
pub(crate) const COLOURS: [&str; 4] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"];

pub(crate) const TICK_FONT: f64 = 11.0;
pub(crate) const LABEL_FONT: f64 = 12.0;
pub(crate) const TITLE_FONT: f64 = 14.0;

/// Tick positions and how to print them.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Ticks {
    pub values: Vec<f64>,
    step: f64,
}

impl Ticks {
    /// Every tick printed with the decimals its step needs, so 0.25 steps show "0.25" and 0.2
    /// steps "0.2"; far from 1 the labels switch to exponent form.
    pub(crate) fn label(&self, v: f64) -> String {
        let step = self.step.abs();
        if step > 0.0 && !(1e-4..1e6).contains(&step) {
            return format!("{v:e}");
        }
        // Enough decimals that a step of 0.25 is not printed as 0.2/0.3.
        let decimals = (0..=6)
            .find(|&d| {
                let scaled = step * 10f64.powi(d);
                (scaled - scaled.round()).abs() < 1e-6 * scaled.max(1.0)
            })
            .unwrap_or(6) as usize;
        let s = format!("{v:.decimals$}");
        // -0.0 prints as "-0.00"; a tick at zero should read "0.00".
        if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
            s[1..].to_string()
        } else {
            s
        }
    }

    pub(crate) fn labels(&self) -> Vec<String> {
        self.values.iter().map(|&v| self.label(v)).collect()
    }

    /// No ticks (a plot that labels its categories itself).
    pub(crate) fn none() -> Ticks {
        Ticks {
            values: Vec::new(),
            step: 1.0,
        }
    }
}

/// About `target` ticks covering lo..hi at steps of 1, 2, 2.5 or 5 times a power of ten (only
/// 1, 2, 5 and at least 1 when `integer`, for epochs and counts). Wilkinson's "nice numbers",
/// as in matplotlib's `MaxNLocator`.
pub(crate) fn nice_ticks(lo: f64, hi: f64, target: usize, integer: bool) -> Ticks {
    if !(lo.is_finite() && hi.is_finite() && hi > lo) {
        let v = if lo.is_finite() { lo } else { 0.0 };
        return Ticks {
            values: vec![v],
            step: 1.0,
        };
    }
    let raw = (hi - lo) / target.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let fraction = raw / magnitude;
    let choices: &[f64] = if integer {
        &[1.0, 2.0, 5.0, 10.0]
    } else {
        &[1.0, 2.0, 2.5, 5.0, 10.0]
    };
    let nice = choices
        .iter()
        .copied()
        .find(|&c| fraction <= c + 1e-9)
        .unwrap_or(10.0);
    let mut step = nice * magnitude;
    if integer {
        step = step.max(1.0).round();
    }
    let first = (lo / step - 1e-9).ceil();
    let values = (0..)
        .map(|k| (first + k as f64) * step)
        .take_while(|&v| v <= hi + step * 1e-9)
        .take(100)
        .collect();
    Ticks { values, step }
}

/// The data range widened by 5% each side, as matplotlib's default margins; an empty range is
/// widened around its value and no data at all gives 0..1, so the scale never divides by zero.
pub(crate) fn padded_range(values: impl IntoIterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi {
        return (0.0, 1.0);
    }
    if hi == lo {
        let d = if lo == 0.0 { 0.5 } else { lo.abs() * 0.1 };
        return (lo - d, hi + d);
    }
    let pad = 0.05 * (hi - lo);
    (lo - pad, hi + pad)
}

/// A plot area in pixels and the data ranges it shows (both ranges non-empty).
pub(crate) struct Frame {
    pub left: f64,
    pub top: f64,
    pub width: f64,
    pub height: f64,
    pub x: (f64, f64),
    pub y: (f64, f64),
}

impl Frame {
    pub(crate) fn px(&self, x: f64) -> f64 {
        self.left + (x - self.x.0) / (self.x.1 - self.x.0) * self.width
    }

    /// SVG's y grows downwards, so the top of the area is the top of the range.
    pub(crate) fn py(&self, y: f64) -> f64 {
        self.top + self.height - (y - self.y.0) / (self.y.1 - self.y.0) * self.height
    }

    pub(crate) fn right(&self) -> f64 {
        self.left + self.width
    }

    pub(crate) fn bottom(&self) -> f64 {
        self.top + self.height
    }
}

/// Everything around a plot area: title, legend row, axes labels.
pub(crate) struct AxesText<'a> {
    pub title: &'a str,
    pub xlabel: &'a str,
    pub ylabel: &'a str,
}

/// Space reserved above the plot area for the title and the legend row.
const TOP_MARGIN: f64 = 54.0;
/// Space below for tick labels and the x label.
const BOTTOM_MARGIN: f64 = 46.0;
const RIGHT_MARGIN: f64 = 16.0;

/// The plot area inside the panel (x, y, w, h), leaving room on the left for the widest y tick
/// label and the rotated y label.
pub(crate) fn frame_in(
    panel: (f64, f64, f64, f64),
    xr: (f64, f64),
    yr: (f64, f64),
    yt: &Ticks,
) -> Frame {
    let (x, y, w, h) = panel;
    let widest = yt
        .labels()
        .iter()
        .map(|l| text_width(l, TICK_FONT))
        .fold(0.0, f64::max);
    let left = 8.0 + LABEL_FONT + 10.0 + widest + 8.0;
    Frame {
        left: x + left,
        top: y + TOP_MARGIN,
        width: (w - left - RIGHT_MARGIN).max(10.0),
        height: (h - TOP_MARGIN - BOTTOM_MARGIN).max(10.0),
        x: xr,
        y: yr,
    }
}

/// Grid lines, frame, ticks with labels, axis labels and title. Call before drawing the data so
/// that the data is painted over the grid.
pub(crate) fn draw_axes(doc: &mut SvgDoc, f: &Frame, xt: &Ticks, yt: &Ticks, text: &AxesText) {
    let grid = r##"stroke="#e6e6e6" stroke-width="1""##;
    let tick = r##"stroke="#333" stroke-width="1""##;
    for &v in &yt.values {
        let y = f.py(v);
        doc.line(f.left, y, f.right(), y, grid);
        doc.line(f.left - 5.0, y, f.left, y, tick);
        doc.text(
            f.left - 8.0,
            y + TICK_FONT * 0.35,
            TICK_FONT,
            Anchor::End,
            &yt.label(v),
        );
    }
    for &v in &xt.values {
        let x = f.px(v);
        doc.line(x, f.bottom(), x, f.bottom() + 5.0, tick);
        doc.text(
            x,
            f.bottom() + 8.0 + TICK_FONT,
            TICK_FONT,
            Anchor::Middle,
            &xt.label(v),
        );
    }
    doc.rect(
        f.left,
        f.top,
        f.width,
        f.height,
        r##"fill="none" stroke="#333" stroke-width="1""##,
    );

    let centre_x = f.left + f.width / 2.0;
    doc.text(
        centre_x,
        f.bottom() + 40.0,
        LABEL_FONT,
        Anchor::Middle,
        text.xlabel,
    );
    let widest = yt
        .labels()
        .iter()
        .map(|l| text_width(l, TICK_FONT))
        .fold(0.0, f64::max);
    let label_x = f.left - 8.0 - widest - 10.0;
    let centre_y = f.top + f.height / 2.0;
    let rotate = format!(
        r#"transform="rotate(-90 {} {})""#,
        num(label_x),
        num(centre_y)
    );
    doc.styled_text(
        label_x,
        centre_y,
        LABEL_FONT,
        Anchor::Middle,
        &rotate,
        text.ylabel,
    );
    doc.styled_text(
        centre_x,
        f.top - 34.0,
        TITLE_FONT,
        Anchor::Middle,
        r#"font-weight="bold""#,
        text.title,
    );
}

/// How a legend entry's key is drawn.
#[derive(Clone, Copy)]
pub(crate) enum Key {
    Line,
    /// A dashed grey line, for a marker such as the best epoch.
    Dashed,
    /// A filled square, for histogram bars.
    Patch,
}

pub(crate) struct LegendEntry<'a> {
    pub label: &'a str,
    pub colour: &'static str,
    pub key: Key,
}

pub(crate) const MARKER_STYLE: &str =
    r##"stroke="#555" stroke-width="1.2" stroke-dasharray="5,4""##;

/// Legend entries in one row just above the plot area, ending at its right edge: above the data,
/// so it can never hide a curve or a bar.
pub(crate) fn draw_legend(doc: &mut SvgDoc, f: &Frame, entries: &[LegendEntry]) {
    const KEY_W: f64 = 20.0;
    const FONT: f64 = 11.0;
    const SPACING: f64 = 14.0;
    let widths: Vec<f64> = entries
        .iter()
        .map(|e| KEY_W + 5.0 + text_width(e.label, FONT))
        .collect();
    let total: f64 = widths.iter().sum::<f64>() + SPACING * entries.len().saturating_sub(1) as f64;
    let mut x = (f.right() - total).max(f.left);
    let y = f.top - 10.0;
    for (e, w) in entries.iter().zip(widths) {
        let colour = e.colour;
        match e.key {
            Key::Line => {
                let style = format!(r#"stroke="{colour}" stroke-width="2""#);
                doc.line(x, y - 4.0, x + KEY_W, y - 4.0, &style);
            }
            Key::Dashed => doc.line(x, y - 4.0, x + KEY_W, y - 4.0, MARKER_STYLE),
            Key::Patch => {
                let style = format!(r#"fill="{colour}" fill-opacity="0.6""#);
                doc.rect(x + 5.0, y - 9.0, 10.0, 10.0, &style);
            }
        }
        doc.text(x + KEY_W + 5.0, y, FONT, Anchor::Start, e.label);
        x += w + SPACING;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ticks_pick_round_steps() {
        let t = nice_ticks(0.0, 1.0, 5, false);
        assert_eq!(t.labels(), ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        let t = nice_ticks(0.17, 0.93, 4, false);
        assert_eq!(t.labels(), ["0.2", "0.4", "0.6", "0.8"]);
        let t = nice_ticks(-0.61, 0.58, 5, false);
        assert_eq!(t.labels(), ["-0.50", "-0.25", "0.00", "0.25", "0.50"]);
        let t = nice_ticks(0.45, 20.55, 6, true);
        assert_eq!(t.labels(), ["5", "10", "15", "20"]);
        // Integer ticks never step by less than 1, even over a short range.
        let t = nice_ticks(0.5, 1.5, 6, true);
        assert_eq!(t.labels(), ["1"]);
    }

    #[test]
    fn degenerate_ranges_give_one_tick() {
        assert_eq!(nice_ticks(1.0, 1.0, 5, false).values, [1.0]);
        assert_eq!(nice_ticks(f64::NAN, 1.0, 5, false).values, [0.0]);
        assert_eq!(nice_ticks(0.0, f64::INFINITY, 5, false).values, [0.0]);
    }

    #[test]
    fn extreme_steps_use_exponents() {
        let t = nice_ticks(0.0, 3e-6, 3, false);
        assert!(
            t.labels().iter().all(|l| l.contains('e') || l == "0e0"),
            "{:?}",
            t.labels()
        );
    }

    #[test]
    fn padded_range_never_empty() {
        assert_eq!(padded_range([]), (0.0, 1.0));
        assert_eq!(padded_range([f64::NAN, f64::INFINITY]), (0.0, 1.0));
        assert_eq!(padded_range([0.0]), (-0.5, 0.5));
        let (lo, hi) = padded_range([2.0, 2.0]);
        assert!((lo - 1.8).abs() < 1e-12 && (hi - 2.2).abs() < 1e-12);
        assert_eq!(padded_range([0.0, 10.0, f64::NAN]), (-0.5, 10.5));
    }
}
