//! What can go wrong when drawing: a bad argument from the caller, or a file that cannot be written.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum DrawError {
    /// The OS error is part of the message so that the one line the command prints says it all.
    #[error("cannot write {}: {cause}", path.display())]
    Write {
        path: PathBuf,
        /// The OS error (part of the message, so not also a `source()`).
        cause: io::Error,
    },
    #[error(
        "image of {width}x{height} pixels is too large \
         (at most {max_side} pixels per side and {max_pixels} in all)",
        max_side = crate::draw::MAX_SIDE,
        max_pixels = crate::draw::MAX_PIXELS
    )]
    TooLarge { width: usize, height: usize },
    #[error("image of {width}x{height} pixels has no area")]
    Empty { width: usize, height: usize },
    #[error("tile {index} is {height}x{width} but has {len} values")]
    TileShape {
        index: usize,
        height: usize,
        width: usize,
        len: usize,
    },
    #[error("{tiles} tiles do not fit a grid of {rows} rows and {cols} columns")]
    GridTooSmall {
        tiles: usize,
        rows: usize,
        cols: usize,
    },
    #[error("colour range {vmin}..{vmax} must be finite with vmin < vmax")]
    BadRange { vmin: f32, vmax: f32 },
    #[error("scale factor must be at least 1, got {0}")]
    ZeroScale(usize),
    #[error("cannot encode PNG: {0}")]
    Png(#[from] png::EncodingError),
}
