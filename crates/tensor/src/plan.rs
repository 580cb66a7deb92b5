//! One visible choice: which kernel runs each layer.
//!
//! Several implementations compute a convolution (and its fused forms); this file is the one
//! place that chooses between them, from the layer's shapes, the `ConvAlgorithm` asked for and
//! the CPU. Every kernel entry point asks `conv_kernel` / `conv_relu_pool` instead of deciding on
//! its own, and `convlab summary --plan` prints the same answers (`Sequential::plan`), so what a
//! reader sees is what runs. Each variant says when it wins; `convlab bench conv` measures it.

use crate::conv2d::{winograd_applies, winograd_pools_by_tile, Conv2dGeometry, ConvAlgorithm};
use crate::gemm::window_gemm_runs;
use crate::pool2d::Pool2dGeometry;

/// The fewest input channels for which `Auto` picks Winograd.
pub const AUTO_WINOGRAD_MIN_C: usize = 16;

/// The kernel that computes one convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConvKernel {
    /// im2col whose patch rows are read straight from a padded copy of each image by the window
    /// GEMM (AVX-512, or AVX2 + FMA), bias and ReLU applied as it stores. Wins when there are few
    /// input channels (conv1: K = 9) and the filters are a multiple of 32 (16 on AVX2).
    Im2colWindows,
    /// im2col through a patch matrix built for a few images at a time, while it is in L2, then
    /// one GEMM. Wins on layers Winograd cannot take (strides, 1x1, 5x5), and runs where the
    /// window GEMM cannot (no AVX2, or filters not a multiple of its width).
    Im2colPatches,
    /// Blocks of output pixels and channels summed in registers straight from the input, no
    /// patch matrix, extra memory the size of the kernel. Wins on 5x5 layers and where memory
    /// is short (docs/BENCHMARKS.md).
    Direct,
    /// Winograd F(2x2, 3x3): 16 products on transformed 4x4 tiles, 2.25x fewer multiplications.
    /// Wins on 3x3 stride-1 layers with enough input channels for its products (conv2: C = 32).
    Winograd,
    /// The f64 reference loops. Never fast: the one to read and to check against.
    Reference,
}

impl ConvKernel {
    /// The algorithm family, as `--conv` names it.
    pub fn algorithm(self) -> ConvAlgorithm {
        match self {
            ConvKernel::Im2colWindows | ConvKernel::Im2colPatches => ConvAlgorithm::Im2col,
            ConvKernel::Direct => ConvAlgorithm::Direct,
            ConvKernel::Winograd => ConvAlgorithm::Winograd,
            ConvKernel::Reference => ConvAlgorithm::Reference,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ConvKernel::Im2colWindows => "im2col (windows)",
            ConvKernel::Im2colPatches => "im2col (patches)",
            ConvKernel::Direct => "direct",
            ConvKernel::Winograd => "winograd",
            ConvKernel::Reference => "reference",
        }
    }
}

/// The kernel for a convolution of geometry `g` when `algorithm` is asked for: `Auto` decided,
/// Winograd replaced by im2col on a shape it does not compute (not 3x3 at stride 1), im2col's
/// forward reading windows where the CPU and the filter count allow it.
pub fn conv_kernel(g: &Conv2dGeometry, algorithm: ConvAlgorithm) -> ConvKernel {
    let im2col = if window_gemm_runs(g.co) {
        ConvKernel::Im2colWindows
    } else {
        ConvKernel::Im2colPatches
    };
    match algorithm {
        ConvAlgorithm::Auto if winograd_applies(g) && g.c >= AUTO_WINOGRAD_MIN_C => {
            ConvKernel::Winograd
        }
        ConvAlgorithm::Winograd if winograd_applies(g) => ConvKernel::Winograd,
        ConvAlgorithm::Auto | ConvAlgorithm::Winograd | ConvAlgorithm::Im2col => im2col,
        ConvAlgorithm::Direct => ConvKernel::Direct,
        ConvAlgorithm::Reference => ConvKernel::Reference,
    }
}

/// How Conv2D(activation="relu") followed by MaxPooling2D runs as one op.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConvReluPool {
    /// The batch cut into chunks of a few images; each chunk's convolution output is made,
    /// rectified and pooled while it is in cache, and only the pooled values leave it. Wins when
    /// the full convolution output would not fit a core's L2 (conv1: 3.2 MB at batch 32).
    Chunks(ConvKernel),
    /// Winograd with the pooling inside its output tiles, on the whole batch: a 2x2 tile is one
    /// 2x2 pooling window. Wins when the convolution is Winograd's and the pooling is 2x2 at
    /// stride 2 over an even output (conv2).
    WinogradTiles,
}

/// The fused plan of a convolution `conv` whose output `pool` max-pools, or None when the two
/// run faster as separate ops (a Winograd convolution whose tiles are not the pooling's windows:
/// Winograd is not worth cutting into chunks).
pub fn conv_relu_pool(
    conv: &Conv2dGeometry,
    pool: &Pool2dGeometry,
    algorithm: ConvAlgorithm,
) -> Option<ConvReluPool> {
    match conv_kernel(conv, algorithm) {
        ConvKernel::Winograd if winograd_pools_by_tile(conv, pool) => {
            Some(ConvReluPool::WinogradTiles)
        }
        ConvKernel::Winograd => None,
        kernel => Some(ConvReluPool::Chunks(kernel)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Padding;

    fn conv(x: [usize; 4], w: [usize; 4], s: usize) -> Conv2dGeometry {
        Conv2dGeometry::new(&x, &w, (s, s), Padding::Same).unwrap()
    }

    #[test]
    fn the_chapters_layers_get_the_plans_training_measured_fastest() {
        let conv1 = conv([32, 28, 28, 1], [3, 3, 1, 32], 1);
        let conv2 = conv([32, 14, 14, 32], [3, 3, 32, 64], 1);
        let pool = |g: &Conv2dGeometry| {
            Pool2dGeometry::new(&g.y_shape(), (2, 2), (2, 2), Padding::Valid).unwrap()
        };
        let kernel1 = conv_kernel(&conv1, ConvAlgorithm::Auto);
        assert!(matches!(
            kernel1,
            ConvKernel::Im2colWindows | ConvKernel::Im2colPatches
        ));
        assert_eq!(
            conv_kernel(&conv2, ConvAlgorithm::Auto),
            ConvKernel::Winograd
        );
        assert_eq!(
            conv_relu_pool(&conv1, &pool(&conv1), ConvAlgorithm::Auto),
            Some(ConvReluPool::Chunks(kernel1))
        );
        assert_eq!(
            conv_relu_pool(&conv2, &pool(&conv2), ConvAlgorithm::Auto),
            Some(ConvReluPool::WinogradTiles)
        );
        // Winograd asked for on a strided layer: im2col runs.
        let strided = conv([2, 9, 9, 32], [3, 3, 32, 32], 2);
        assert_eq!(
            conv_kernel(&strided, ConvAlgorithm::Winograd).algorithm(),
            ConvAlgorithm::Im2col
        );
        // A 3x3 pooling of a Winograd output: the two ops.
        let p3 = Pool2dGeometry::new(&conv2.y_shape(), (3, 3), (2, 2), Padding::Valid).unwrap();
        assert_eq!(conv_relu_pool(&conv2, &p3, ConvAlgorithm::Auto), None);
    }
}
