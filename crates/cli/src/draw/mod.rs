//! Pictures and plots for the `convlab` command, drawn without system fonts or libraries.
//!
//! - PNG images ([`RgbImage`], [`image_grid`]): the chapter's filter grid (2 x 16 kernels of 3x3,
//!   colour scale fixed at -0.5..0.5) and feature-map grid (4 x 8 maps, each scaled to its own
//!   min..max), coloured with matplotlib's default colormap [`viridis`].
//! - SVG plots written as text ([`learning_curves`], [`line_chart`], [`histogram`],
//!   [`histogram_compare`]): the chapter's `plt.plot` and `plt.hist` figures.
//! - The model figure ([`model_svg`], [`model_dot`]): Keras's `plot_model(model, show_shapes=True)`.
//! - The chapter's 8-1 figures ([`grid_figure`]): input, kernel and output grids with the window
//!   outlined (`convlab explain`).
//! - The benchmark plot ([`bench_plot`]): `bench conv --plot`, GFLOP/s against the swept
//!   variable, one line per algorithm, the measured FMA peak dashed.
//! - The confusion matrix as a heat map ([`confusion_heat_map`]), every cell with its count.
//! - [`write_atomic`]: every picture reaches disk whole or not at all.
//!
//! Inputs are plain slices and structs (only the atomic write comes from convlab-nn). Degenerate
//! data (a constant tile, a NaN, a single epoch) always draws something and never divides by zero;
//! bad arguments (a tile whose length does not match its shape, an image too large to allocate)
//! return a [`DrawError`].

mod atomic;
mod colormap;
mod error;
mod grid_figure;
mod model_graph;
mod png_grid;
mod raster;
mod svg;
mod svg_axes;
mod svg_bench;
mod svg_chart;
mod svg_heatmap;
mod svg_hist;

pub use atomic::write_atomic;
pub use colormap::{grey, viridis, NAN_COLOUR};
pub use error::DrawError;
pub use grid_figure::{grid_figure, Panel};
pub use model_graph::{model_dot, model_svg, LayerBox};
pub use png_grid::{image_grid, ColorScale, GridOpts, Palette, Tile};
pub use raster::{side_by_side, RgbImage, MAX_PIXELS, MAX_SIDE};
pub use svg::escape_xml;
pub use svg_bench::{bench_plot, BenchPanel, BenchSeries};
pub use svg_chart::{learning_curves, line_chart, ChartOpts, HistoryData, Series};
pub use svg_heatmap::confusion_heat_map;
pub use svg_hist::{bin_counts, histogram, histogram_compare, Bins};
