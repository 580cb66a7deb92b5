//! The training report: one self-contained HTML page about a model and its run, for any browser,
//! offline.
//!
//! [`Report`] holds what the page shows, already computed (the command gathers it from a model,
//! its run and its data: `src/commands/report.rs`); [`Report::to_html`] lays it out. The page
//! loads nothing: its pictures are inline SVG or PNG data URIs, its style and its few lines of
//! script are in the file, its fonts the browser's own `sans-serif` and `monospace`.
//!
//! Sections, in order, each a `<section id=...>`: `model` (summary table, diagram, and the plan
//! of which kernel runs each layer), `run` (settings and timings), `curves` (loss and accuracy per
//! epoch, the best epoch marked), `confusion` (heat map of the evaluated split), `mistakes` (the
//! most confidently misclassified images with their probabilities), `weights` (every layer's
//! weight statistics and histogram, trained beside untrained), `filters` (the first Conv2D
//! layer's kernels) and `probes` (for a few images, the class probabilities and the feature maps
//! of every layer with a spatial output).
//!
//! Without JavaScript all of it shows, every probe one after another. The script (`report.js`)
//! adds what needs it: a row of thumbnails to pick the probe image (also `#image=K` in the
//! address), and a read-out line that names the value under the mouse (a heat-map cell, a curve's
//! point, a probability, a feature map and its range). Every value the read-out shows is also in
//! a `<title>` or in the page's text, so nothing is only in the script.
//!
//! The page is well-formed XML (XHTML syntax in an HTML5 document), so tests read it with an XML
//! parser as well as in a real browser (`crates/cli/tests/report.rs`).

mod base64;
mod page;

pub use base64::base64;

use convlab_nn::EpochLogs;

/// Everything the page shows. Text fields are plain text (escaped when written); `*_svg` fields
/// are SVG documents made by [`crate::draw`]; `*_png` fields are PNG files' bytes.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// The page's heading, e.g. "sequential on Fashion-MNIST".
    pub title: String,
    /// Which weights it describes, e.g. "best-cnn-model.safetensors (best epoch 7)".
    pub subtitle: String,
    /// Keras's summary table.
    pub summary: String,
    /// Which kernel runs each layer (`Sequential::plan_table`).
    pub plan: String,
    pub model_svg: String,
    /// The run's settings and other facts, in order, as (name, value).
    pub settings: Vec<(String, String)>,
    /// One entry per epoch done; empty when the run's history is unknown.
    pub epochs: Vec<EpochLogs>,
    /// The epoch whose weights these are (1-based), marked on the curves.
    pub best_epoch: Option<usize>,
    pub stop_reason: Option<String>,
    /// Why there is no history, when `epochs` is empty.
    pub history_note: Option<String>,
    /// Training images per epoch (for images/s).
    pub train_images: Option<usize>,
    /// The dataset's class names, by label.
    pub class_names: Vec<String>,
    pub evaluation: Option<Evaluation>,
    pub weights: Vec<LayerWeights>,
    pub filters: Option<Filters>,
    pub probes: Vec<Probe>,
}

/// The model on one split of the data.
#[derive(Clone, Debug, Default)]
pub struct Evaluation {
    /// "test" or "validation".
    pub split: String,
    pub loss: f32,
    pub accuracy: f32,
    /// `confusion[t][p]`: images of true class t predicted as p.
    pub confusion: Vec<Vec<usize>>,
    /// The most confident mistakes, most confident first.
    pub mistakes: Vec<Mistake>,
}

/// One misclassified image.
#[derive(Clone, Debug, Default)]
pub struct Mistake {
    /// Its index in the split.
    pub index: usize,
    pub image_png: Vec<u8>,
    pub label: usize,
    pub predicted: usize,
    pub probabilities: Vec<f32>,
}

/// A layer's weights, trained and as they were initialised.
#[derive(Clone, Debug, Default)]
pub struct LayerWeights {
    pub layer: String,
    pub kind: String,
    pub weights: Vec<WeightStats>,
    /// The kernel's histogram, trained over untrained.
    pub histogram_svg: String,
}

#[derive(Clone, Debug, Default)]
pub struct WeightStats {
    /// "kernel" or "bias".
    pub name: String,
    pub shape: Vec<usize>,
    pub trained: Stats,
    pub untrained: Stats,
}

/// numpy's mean, std (population), min and max.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stats {
    pub mean: f64,
    pub std: f64,
    pub min: f32,
    pub max: f32,
}

impl Stats {
    /// NaN everywhere for no values.
    pub fn of(values: &[f32]) -> Stats {
        if values.is_empty() {
            let nan = f64::NAN;
            return Stats {
                mean: nan,
                std: nan,
                min: nan as f32,
                max: nan as f32,
            };
        }
        let n = values.len() as f64;
        let mean = values.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = values
            .iter()
            .map(|&v| (v as f64 - mean).powi(2))
            .sum::<f64>()
            / n;
        Stats {
            mean,
            std: var.sqrt(),
            min: values.iter().copied().fold(f32::INFINITY, f32::min),
            max: values.iter().copied().fold(f32::NEG_INFINITY, f32::max),
        }
    }
}

/// The first Conv2D layer's kernels: one grid of all its filters per input channel drawn.
#[derive(Clone, Debug, Default)]
pub struct Filters {
    pub layer: String,
    /// (kh, kw, in, out).
    pub shape: [usize; 4],
    /// The colour scale runs from -limit to +limit.
    pub limit: f32,
    /// (input channel, PNG of its `out` filters).
    pub grids: Vec<(usize, Vec<u8>)>,
}

/// One image through the model.
#[derive(Clone, Debug, Default)]
pub struct Probe {
    pub index: usize,
    pub image_png: Vec<u8>,
    pub label: usize,
    pub predicted: usize,
    pub probabilities: Vec<f32>,
    pub layers: Vec<FeatureMaps>,
}

/// One layer's output for a probe image, drawn as a grid of maps.
#[derive(Clone, Debug, Default)]
pub struct FeatureMaps {
    pub layer: String,
    pub kind: String,
    /// (height, width, channels) of the output.
    pub shape: [usize; 3],
    /// How many maps the grid draws (the first ones, when there are very many).
    pub shown: usize,
    /// The grid's layout, so the script can tell which map is under the mouse: `cols` maps per
    /// row, each `shape[0] x shape[1]` values drawn `scale` pixels each, `gap` pixels apart and
    /// around.
    pub cols: usize,
    pub scale: usize,
    pub gap: usize,
    pub png: Vec<u8>,
    /// Each drawn map's (min, max): its colours run from dark at min to bright at max.
    pub ranges: Vec<(f32, f32)>,
}

impl Report {
    /// The whole page.
    pub fn to_html(&self) -> String {
        page::html(self)
    }
}

#[cfg(test)]
mod tests;
