//! 2-D pooling, channels-last: each output cell summarises one window of one channel.
//!
//! Shapes: x (N, H, W, C) -> y (N, HO, WO, C). Window (PH, PW), strides (SH, SW) (Keras: strides
//! default to the pool size), output size and padding by the same TensorFlow rule as convolution
//! (`conv2d::output_size`). Padded cells are not values: they never win a max and are not counted
//! in an average, as in Keras.
//!
//! `max.rs` and `avg.rs` each hold one pooling's forward and backward side by side.

mod avg;
mod max;

pub use avg::{avg_pool2d_backward, avg_pool2d_forward};
pub use max::{max_pool2d_backward, max_pool2d_forward, max_pool2d_forward_values, MaxPoolOutput};
pub(crate) use max::{max_pool_images, unpool_images};

use crate::conv2d::{output_size, Padding};
use crate::error::{checked_product, TensorError};

/// The shapes of a pooling, computed and checked once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dGeometry {
    pub n: usize,
    pub h: usize,
    pub w: usize,
    pub c: usize,
    /// Window height and width.
    pub ph: usize,
    pub pw: usize,
    pub sh: usize,
    pub sw: usize,
    pub pad_top: usize,
    pub pad_left: usize,
    pub ho: usize,
    pub wo: usize,
}

impl Pool2dGeometry {
    /// Checks x's shape (N, H, W, C) against the window and computes the output size.
    pub fn new(
        x_shape: &[usize],
        pool_size: (usize, usize),
        strides: (usize, usize),
        padding: Padding,
    ) -> Result<Self, TensorError> {
        const OP: &str = "pool2d";
        let &[n, h, w, c] = x_shape else {
            return Err(TensorError::Rank {
                op: OP,
                expected: 4,
                shape: x_shape.to_vec(),
            });
        };
        for (value, dim) in [(n, "batch"), (c, "channels")] {
            if value == 0 {
                return Err(TensorError::ZeroDim {
                    op: OP,
                    dim: dim.to_string(),
                });
            }
        }
        let (ho, pad_top) = output_size(OP, "height", h, pool_size.0, strides.0, padding)?;
        let (wo, pad_left) = output_size(OP, "width", w, pool_size.1, strides.1, padding)?;
        checked_product("pool2d input", x_shape)?;
        Ok(Pool2dGeometry {
            n,
            h,
            w,
            c,
            ph: pool_size.0,
            pw: pool_size.1,
            sh: strides.0,
            sw: strides.1,
            pad_top,
            pad_left,
            ho,
            wo,
        })
    }

    pub fn x_shape(&self) -> [usize; 4] {
        [self.n, self.h, self.w, self.c]
    }

    pub fn y_shape(&self) -> [usize; 4] {
        [self.n, self.ho, self.wo, self.c]
    }

    /// The input rows covered by output row `oy`, padding excluded.
    pub(crate) fn rows(&self, oy: usize) -> std::ops::Range<usize> {
        window_range(oy, self.sh, self.pad_top, self.ph, self.h)
    }

    /// The input columns covered by output column `ox`, padding excluded.
    pub(crate) fn cols(&self, ox: usize) -> std::ops::Range<usize> {
        window_range(ox, self.sw, self.pad_left, self.pw, self.w)
    }
}

/// Input indices `[o*stride - pad, o*stride - pad + window)` clipped to `[0, input)`.
fn window_range(
    o: usize,
    stride: usize,
    pad: usize,
    window: usize,
    input: usize,
) -> std::ops::Range<usize> {
    let start = o * stride;
    let lo = start.saturating_sub(pad);
    let hi = (start + window).saturating_sub(pad).min(input);
    lo..hi.max(lo)
}

#[cfg(test)]
mod tests;
