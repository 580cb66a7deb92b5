//! convlab-cli library: the drawing code and the HTML report behind the `convlab` command.
//!
//! ```
//! use convlab_cli::draw::histogram;
//!
//! // The histogram `convlab inspect weights --hist` draws, as SVG text.
//! let weights = [-0.3, -0.1, 0.0, 0.05, 0.1, 0.2];
//! let svg = histogram(&weights, 4, "conv2d kernel weights", "weight value");
//! assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"));
//! ```
//!
//! The command itself (`src/main.rs`, `src/commands/`) is the binary's: one module per command.

pub mod draw;
pub mod report;
