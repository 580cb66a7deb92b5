//! 2-D convolution (really cross-correlation, as in every deep-learning framework), channels-last.
//!
//! ```text
//! y[n, oy, ox, co] = b[co] + sum over ky, kx, ci of
//!                    x[n, oy*sh + ky - pad_top, ox*sw + kx - pad_left, ci] * w[ky, kx, ci, co]
//! ```
//! Shapes: x (N, H, W, C) NHWC; w (KH, KW, C, CO) like Keras; b (CO); y (N, HO, WO, CO).
//! Taps that fall outside the input read zero (the padding).
//!
//! Output size and padding follow TensorFlow (the `same` rule is asymmetric):
//! - `Valid`: HO = (H - KH) / SH + 1, no padding; the window must fit in the input.
//! - `Same`:  HO = ceil(H / SH); total padding = max((HO - 1) * SH + KH - H, 0), of which the
//!   smaller half, floor(total / 2), goes on top (left) and the rest at the bottom (right).
//!
//! Backward, from the upstream gradient dy (N, HO, WO, CO):
//! - `dx[n, iy, ix, ci]` = sum over the (oy, ox, ky, kx) that read `x[n, iy, ix]` of
//!   `dy[n, oy, ox, co] * w[ky, kx, ci, co]`
//! - `dw[ky, kx, ci, co]` = sum over n, oy, ox of `x[n, iy, ix, ci] * dy[n, oy, ox, co]`
//! - `db[co]` = sum over n, oy, ox of `dy[n, oy, ox, co]`
//!
//! Three algorithms compute the same numbers up to rounding (`ConvAlgorithm`); `im2col.rs`,
//! `direct.rs` and `winograd/` each hold one algorithm's forward and backward side by side.

mod blocks;
mod by_reference;
mod direct;
mod im2col;
mod winograd;

use crate::error::{checked_product, shape_panic, TensorError};
use crate::{elementwise, Tensor};

pub(crate) use blocks::sum_partials;
pub use direct::{
    direct_backward, direct_backward_bias, direct_backward_data, direct_forward,
    has_vector_kernels as direct_has_vector_kernels,
};
pub use im2col::{im2col_backward, im2col_forward, patch_matrix};
pub use winograd::applies as winograd_applies;
pub use winograd::pooled::pools_by_tile as winograd_pools_by_tile;
pub(crate) use winograd::pooled::{
    backward as winograd_relu_max_pool_backward, forward as winograd_relu_max_pool_forward,
};
pub use winograd::{one_tile as winograd_one_tile, OneTile as WinogradTile};

/// How windows treat the border, as in Keras (`padding="valid"` / `padding="same"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Padding {
    /// No padding: only windows that fit entirely inside the input.
    Valid,
    /// Zero padding so that out = ceil(in / stride), TensorFlow's asymmetric rule.
    Same,
}

/// Which convolution algorithm to run. All give the same results up to float rounding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ConvAlgorithm {
    /// Per layer and per pass, the kernel measured fastest for its shapes (`plan::forward_kernel`
    /// and `plan::backward_kernel` decide, and say why): Winograd for 3x3 stride-1 layers with
    /// at least `AUTO_WINOGRAD_MIN_C` input channels and an even output, direct or im2col for
    /// the rest (with one
    /// channel Winograd's transforms cost more than the multiplications they save;
    /// docs/PERFORMANCE.md has the `convlab bench conv` figures).
    #[default]
    Auto,
    /// Unroll every window into a row of a patch matrix and multiply it by the kernel, a few
    /// images at a time (with AVX-512 the forward reads those rows straight from a padded image
    /// instead of building them). Wins when there are few input channels (conv1: K = 9).
    Im2col,
    /// Sum every output in vector registers straight from the input windows, no patch matrix
    /// (`direct/`): extra memory the size of the kernel. Wins where im2col's patch matrix is
    /// large against the work it saves (5x5 kernels, few channels) and where memory matters;
    /// docs/BENCHMARKS.md has the comparison. The plain definition is `Reference`.
    Direct,
    /// Winograd F(2x2, 3x3): transformed 4x4 tiles and 16 GEMMs of K = C, 2.25x fewer
    /// multiplications than im2col. For 3x3 kernels at stride 1 (other shapes run im2col); wins
    /// when C is large enough for those GEMMs (conv2: C = 32).
    Winograd,
    /// The f64 reference loops (`crate::reference`), rounded to f32 once: never fast, the one to
    /// read and the one every other algorithm is tested against.
    Reference,
}

pub use crate::plan::AUTO_WINOGRAD_MIN_C;

impl ConvAlgorithm {
    /// The algorithm that runs the forward pass for geometry `g` (`plan::forward_kernel`).
    pub fn resolve_forward(self, g: &Conv2dGeometry) -> ConvAlgorithm {
        crate::plan::forward_kernel(g, self).algorithm()
    }

    /// The algorithm that runs the backward pass (`plan::backward_kernel`).
    pub fn resolve_backward(self, g: &Conv2dGeometry, need_dx: bool) -> ConvAlgorithm {
        crate::plan::backward_kernel(g, self, need_dx).algorithm()
    }

    /// The name `--conv` takes.
    pub fn name(self) -> &'static str {
        match self {
            ConvAlgorithm::Auto => "auto",
            ConvAlgorithm::Im2col => "im2col",
            ConvAlgorithm::Direct => "direct",
            ConvAlgorithm::Winograd => "winograd",
            ConvAlgorithm::Reference => "reference",
        }
    }
}

/// Output size and padding along one axis, by TensorFlow's rule.
/// Returns `(out, pad_before)`; `axis` and `op` name the error.
pub fn output_size(
    op: &'static str,
    axis: &'static str,
    input: usize,
    window: usize,
    stride: usize,
    padding: Padding,
) -> Result<(usize, usize), TensorError> {
    if stride == 0 {
        return Err(TensorError::ZeroStride {
            op,
            what: if axis == "height" {
                "stride along height"
            } else {
                "stride along width"
            },
            value: 0,
        });
    }
    if input == 0 || window == 0 {
        let dim = if input == 0 { "input" } else { "window" };
        return Err(TensorError::ZeroDim {
            op,
            dim: format!("{dim} {axis}"),
        });
    }
    match padding {
        Padding::Valid => {
            if window > input {
                return Err(TensorError::WindowTooLarge {
                    op,
                    axis,
                    window,
                    input,
                });
            }
            Ok(((input - window) / stride + 1, 0))
        }
        Padding::Same => {
            let out = input.div_ceil(stride);
            let needed = (out - 1)
                .checked_mul(stride)
                .and_then(|v| v.checked_add(window))
                .ok_or_else(|| TensorError::Overflow {
                    what: format!("{op}: padding along {axis}"),
                    dims: vec![out - 1, stride, window],
                })?;
            let total = needed.saturating_sub(input);
            Ok((out, total / 2))
        }
    }
}

/// Everything a convolution kernel needs to know about its shapes, computed and checked once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dGeometry {
    /// Batch, input height, width, channels.
    pub n: usize,
    pub h: usize,
    pub w: usize,
    pub c: usize,
    /// Kernel height, width and output channels.
    pub kh: usize,
    pub kw: usize,
    pub co: usize,
    pub sh: usize,
    pub sw: usize,
    /// Padding rows above and columns left of the input.
    pub pad_top: usize,
    pub pad_left: usize,
    /// Output height and width.
    pub ho: usize,
    pub wo: usize,
}

impl Conv2dGeometry {
    /// Checks the shapes of x (N, H, W, C) and w (KH, KW, C, CO) and computes the output size.
    pub fn new(
        x_shape: &[usize],
        w_shape: &[usize],
        strides: (usize, usize),
        padding: Padding,
    ) -> Result<Self, TensorError> {
        const OP: &str = "conv2d";
        let &[n, h, w, c] = x_shape else {
            return Err(TensorError::Rank {
                op: OP,
                expected: 4,
                shape: x_shape.to_vec(),
            });
        };
        let &[kh, kw, kc, co] = w_shape else {
            return Err(TensorError::Rank {
                op: OP,
                expected: 4,
                shape: w_shape.to_vec(),
            });
        };
        for (value, dim) in [
            (n, "batch"),
            (c, "input channels"),
            (co, "output channels (filters)"),
        ] {
            if value == 0 {
                return Err(TensorError::ZeroDim {
                    op: OP,
                    dim: dim.to_string(),
                });
            }
        }
        if kc != c {
            return Err(TensorError::ChannelMismatch {
                op: OP,
                input: c,
                kernel: kc,
            });
        }
        let (ho, pad_top) = output_size(OP, "height", h, kh, strides.0, padding)?;
        let (wo, pad_left) = output_size(OP, "width", w, kw, strides.1, padding)?;
        // Every buffer any algorithm allocates must have a size that fits usize.
        checked_product("conv2d input", x_shape)?;
        checked_product("conv2d kernel", w_shape)?;
        checked_product("conv2d output", &[n, ho, wo, co])?;
        checked_product("conv2d patch matrix", &[n, ho, wo, kh, kw, c])?;
        Ok(Conv2dGeometry {
            n,
            h,
            w,
            c,
            kh,
            kw,
            co,
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
    pub fn w_shape(&self) -> [usize; 4] {
        [self.kh, self.kw, self.c, self.co]
    }
    pub fn y_shape(&self) -> [usize; 4] {
        [self.n, self.ho, self.wo, self.co]
    }

    /// Multiply-adds of one forward pass (the backward pass costs twice this).
    pub fn forward_fmas(&self) -> u64 {
        [self.n, self.ho, self.wo, self.co, self.kh, self.kw, self.c]
            .iter()
            .map(|&d| d as u64)
            .product()
    }

    /// The input row read by output row `oy` at kernel row `ky`, or None if it is padding.
    #[inline]
    pub fn input_row(&self, oy: usize, ky: usize) -> Option<usize> {
        (oy * self.sh + ky)
            .checked_sub(self.pad_top)
            .filter(|&iy| iy < self.h)
    }

    /// The input column read by output column `ox` at kernel column `kx`, or None if padding.
    #[inline]
    pub fn input_col(&self, ox: usize, kx: usize) -> Option<usize> {
        (ox * self.sw + kx)
            .checked_sub(self.pad_left)
            .filter(|&ix| ix < self.w)
    }

    /// Panics (engine contract) unless the tensors have this geometry's shapes.
    #[track_caller]
    pub(crate) fn assert_shapes(&self, op: &str, named: &[(&str, &Tensor, [usize; 4])]) {
        for (name, t, want) in named {
            if t.shape() != want {
                let all: Vec<(&str, &[usize])> =
                    named.iter().map(|(n, t, _)| (*n, t.shape())).collect();
                shape_panic(
                    op,
                    &format!("{name} should have shape {want:?} for this geometry"),
                    &all,
                );
            }
        }
    }

    #[track_caller]
    pub(crate) fn assert_bias(&self, op: &str, b: &Tensor) {
        if b.shape() != [self.co] {
            shape_panic(
                op,
                &format!("bias should have shape [{}]", self.co),
                &[("b", b.shape())],
            );
        }
    }
}

/// Gradients of a convolution.
#[derive(Clone, Debug)]
pub struct Conv2dGrads {
    /// Gradient w.r.t. the input, (N, H, W, C), if it was asked for.
    pub dx: Option<Tensor>,
    /// Gradient w.r.t. the kernel, (KH, KW, C, CO).
    pub dw: Tensor,
    /// Gradient w.r.t. the bias, (CO).
    pub db: Tensor,
}

/// Forward pass with the chosen algorithm. `b` may be omitted (use_bias = false).
pub fn conv2d_forward(
    g: &Conv2dGeometry,
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    algorithm: ConvAlgorithm,
) -> Tensor {
    match algorithm.resolve_forward(g) {
        ConvAlgorithm::Winograd => winograd::forward(g, x, w, b, false),
        ConvAlgorithm::Direct => direct_forward(g, x, w, b),
        ConvAlgorithm::Reference => by_reference::forward(g, x, w, b),
        _ => im2col_forward(g, x, w, b),
    }
}

/// Frees this thread's kernel scratch (see `recycle::release_scratch`).
pub(crate) fn release_thread_buffers() {
    im2col::release_thread_buffers();
    blocks::release_thread_buffers();
    winograd::release_thread_buffers();
}

/// Backward pass with the chosen algorithm. dx is computed only if `need_dx`: a first layer's
/// input is the data, whose gradient nobody uses.
pub fn conv2d_backward(
    g: &Conv2dGeometry,
    x: &Tensor,
    w: &Tensor,
    dy: &Tensor,
    algorithm: ConvAlgorithm,
    need_dx: bool,
) -> Conv2dGrads {
    match algorithm.resolve_backward(g, need_dx) {
        ConvAlgorithm::Winograd => winograd::backward(g, x, w, None, dy, need_dx),
        ConvAlgorithm::Direct => direct_backward(g, x, w, dy, need_dx),
        ConvAlgorithm::Reference => by_reference::backward(g, x, w, dy, need_dx),
        _ => im2col_backward(g, x, w, dy, need_dx),
    }
}

/// relu(conv2d(x, w) + b), fused: each algorithm rectifies each block of y while it is in cache
/// (direct: in registers), saving a pass over y. Gives
/// the same bits as `conv2d_forward` followed by `elementwise::relu`.
pub fn conv2d_relu_forward(
    g: &Conv2dGeometry,
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    algorithm: ConvAlgorithm,
) -> Tensor {
    match algorithm.resolve_forward(g) {
        ConvAlgorithm::Winograd => winograd::forward(g, x, w, b, true),
        ConvAlgorithm::Direct => direct::forward(g, x, w, b, true),
        ConvAlgorithm::Reference => elementwise::relu(&by_reference::forward(g, x, w, b)),
        _ => im2col::forward(g, x, w, b, true),
    }
}

/// Gradients of `conv2d_relu_forward`, given its output `y`: the convolution's backward of dy
/// masked where y <= 0. The im2col algorithm masks block by block; the same bits as
/// `elementwise::relu_backward` followed by `conv2d_backward`.
pub fn conv2d_relu_backward(
    g: &Conv2dGeometry,
    x: &Tensor,
    w: &Tensor,
    y: &Tensor,
    dy: &Tensor,
    algorithm: ConvAlgorithm,
    need_dx: bool,
) -> Conv2dGrads {
    match algorithm.resolve_backward(g, need_dx) {
        ConvAlgorithm::Winograd => winograd::backward(g, x, w, Some(y), dy, need_dx),
        ConvAlgorithm::Direct => direct::relu_backward(g, x, w, y, dy, need_dx),
        ConvAlgorithm::Reference => {
            by_reference::backward(g, x, w, &elementwise::relu_backward(y, dy), need_dx)
        }
        _ => im2col::backward(g, x, w, Some(y), dy, need_dx),
    }
}

/// `db[co]` = sum of dy over every position (the direct algorithm; im2col and Winograd sum per
/// block), in parallel chunks added in order (`blocks::dy_column_sums`).
pub(crate) fn bias_grad(g: &Conv2dGeometry, dy: &[f32]) -> Tensor {
    Tensor::from_vec(
        "conv2d bias gradient",
        &[g.co],
        blocks::dy_column_sums(dy, g.co),
    )
}

#[cfg(test)]
mod tests;
