//! One visible choice: which kernel runs each layer.
//!
//! Several implementations compute a convolution (and its fused forms); this file is the one
//! place that chooses between them, from the layer's shapes, the `ConvAlgorithm` asked for and
//! the CPU. Every kernel entry point asks `forward_kernel` / `backward_kernel` /
//! `conv_relu_pool` instead of deciding on its own, and `convlab summary --plan` prints the same
//! answers (`Sequential::plan`), so what a reader sees is what runs. Each variant says when it
//! wins; `convlab bench conv` measures it.
//!
//! With `ConvAlgorithm::Auto` the forward and the backward pass of one layer may run different
//! algorithms: they are different products (the backward's dx is a transposed convolution, its
//! dw a reduction over the batch), and the fastest kernel for one is often not the fastest for
//! the other. The choices depend on the shapes of one image, never on the batch, so the chunks
//! of a batch (`conv_relu_pool.rs`) run the same kernels as the whole batch would.

use crate::conv2d::{winograd_applies, winograd_pools_by_tile, Conv2dGeometry, ConvAlgorithm};
use crate::gemm::window_gemm_runs;
use crate::pool2d::Pool2dGeometry;

/// The fewest input channels for which `Auto` picks Winograd, and for which its forward pass
/// prefers direct convolution to im2col.
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

/// The kernels of one convolution's two passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConvKernels {
    pub forward: ConvKernel,
    pub backward: ConvKernel,
}

impl ConvKernels {
    /// "direct" when both passes run one kernel, else "direct forward, im2col backward".
    pub fn name(self) -> String {
        if self.forward.algorithm() == self.backward.algorithm() {
            self.forward.name().to_string()
        } else {
            format!(
                "{} forward, {} backward",
                self.forward.name(),
                self.backward.algorithm().name()
            )
        }
    }
}

/// Both passes' kernels; `need_dx` is false for a first layer (its input is the data).
pub fn conv_kernels(g: &Conv2dGeometry, algorithm: ConvAlgorithm, need_dx: bool) -> ConvKernels {
    ConvKernels {
        forward: forward_kernel(g, algorithm),
        backward: backward_kernel(g, algorithm, need_dx),
    }
}

/// Whether `Auto` gives this layer to Winograd: 3x3 at stride 1, and enough input channels that
/// its 16 products are worth the transforms (with one channel they cost more than they save).
fn auto_winograd(g: &Conv2dGeometry) -> bool {
    winograd_applies(g) && g.c >= AUTO_WINOGRAD_MIN_C
}

/// Whether the output is whole 2x2 tiles of Winograd F(2x2, 3x3): an odd side computes a
/// quarter or more of its tiles' values for nothing.
fn whole_tiles(g: &Conv2dGeometry) -> bool {
    g.ho.is_multiple_of(2) && g.wo.is_multiple_of(2)
}

/// im2col's forward: reading windows where the CPU and the filter count allow it.
fn im2col_forward_kernel(g: &Conv2dGeometry) -> ConvKernel {
    if window_gemm_runs(g.co) {
        ConvKernel::Im2colWindows
    } else {
        ConvKernel::Im2colPatches
    }
}

/// The forward pass's kernel for geometry `g` when `algorithm` is asked for: `Auto` decided,
/// Winograd replaced by im2col on a shape it does not compute (not 3x3 at stride 1).
///
/// `Auto`, measured with `convlab bench conv` (docs/PERFORMANCE.md, "Each pass its own kernel"):
/// - Winograd where it applies with C >= 16 and the output is whole 2x2 tiles (an odd output
///   computes a quarter or more of its tiles' values for nothing: 7x7x64 valid, 0.65 ms against
///   direct's 0.41);
/// - else direct where there are many input channels (the window GEMM's K = KH·KW·C is then
///   long, and direct keeps a block of outputs in registers through all of it: 14x14x32 3x3
///   stride 2, 0.34 ms against 1.00) or where the window GEMM cannot take the filter count
///   (LeNet-5's 6 filters: 0.42 ms against the patch matrix's 0.67);
/// - else im2col reading windows (few channels and a multiple of 16 or 32 filters: conv1).
pub fn forward_kernel(g: &Conv2dGeometry, algorithm: ConvAlgorithm) -> ConvKernel {
    match algorithm {
        ConvAlgorithm::Auto if auto_winograd(g) && whole_tiles(g) => ConvKernel::Winograd,
        ConvAlgorithm::Auto
            if crate::conv2d::direct_has_vector_kernels()
                && (g.c >= AUTO_WINOGRAD_MIN_C || !window_gemm_runs(g.co)) =>
        {
            ConvKernel::Direct
        }
        ConvAlgorithm::Winograd if winograd_applies(g) => ConvKernel::Winograd,
        ConvAlgorithm::Auto | ConvAlgorithm::Winograd | ConvAlgorithm::Im2col => {
            im2col_forward_kernel(g)
        }
        ConvAlgorithm::Direct => ConvKernel::Direct,
        ConvAlgorithm::Reference => ConvKernel::Reference,
    }
}

/// The backward pass's kernel (dx only if `need_dx`, dw and db).
///
/// `Auto`, measured with `convlab bench conv` (docs/PERFORMANCE.md, "Each pass its own kernel"
/// and "dx in whole blocks"):
/// - Winograd where it applies with C >= 16 and the output is whole 2x2 tiles (strided's 7x7x64
///   valid layer, a 5x5 output: 0.81 ms against im2col's 0.54 on AVX-512, 0.90 against 0.69 on
///   AVX2);
/// - else, for a first layer (dw and db only), direct, whose dw sums a block of kernel elements
///   over the whole batch in registers (LeNet-5's conv1 0.29 ms against im2col's 0.57, the
///   chapter's 0.31 against 0.45);
/// - else, on AVX-512 with C >= 16 (dx's sums fill whole zmm registers), direct: cifar_5x5's
///   16x16x32 5x5 layer 5.1 ms against im2col's 7.3, strided's 7x7x64 0.51 against 0.54 and its
///   14x14x32 stride 2 0.52 against 0.53;
/// - else im2col, which makes dx and dw from one pass over the same blocks (on AVX2 direct's dx
///   is a second, slower convolution: 14x14x32 3x3 stride 2, 0.80 ms for both against im2col's
///   0.68; LeNet-5's 14x14x6, 6 channels, 0.50 against 0.38 on AVX-512).
pub fn backward_kernel(g: &Conv2dGeometry, algorithm: ConvAlgorithm, need_dx: bool) -> ConvKernel {
    match algorithm {
        ConvAlgorithm::Auto if auto_winograd(g) && whole_tiles(g) => ConvKernel::Winograd,
        ConvAlgorithm::Auto if !need_dx && crate::conv2d::direct_has_vector_kernels() => {
            ConvKernel::Direct
        }
        ConvAlgorithm::Auto
            if crate::isa::active() == crate::isa::Isa::Avx512 && g.c >= AUTO_WINOGRAD_MIN_C =>
        {
            ConvKernel::Direct
        }
        ConvAlgorithm::Winograd if winograd_applies(g) => ConvKernel::Winograd,
        ConvAlgorithm::Auto | ConvAlgorithm::Winograd | ConvAlgorithm::Im2col => {
            ConvKernel::Im2colPatches
        }
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
    Chunks(ConvKernels),
    /// Winograd with the pooling inside its output tiles, on the whole batch: a 2x2 tile is one
    /// 2x2 pooling window. Wins when the convolution is Winograd's and the pooling is 2x2 at
    /// stride 2 over an even output (conv2).
    WinogradTiles,
}

/// The fused plan of a convolution `conv` whose output `pool` max-pools, or None when the two
/// run faster as separate ops (a Winograd convolution, in either pass, whose tiles are not the
/// pooling's windows: Winograd is not worth cutting into chunks). `need_dx` as in
/// `backward_kernel`.
pub fn conv_relu_pool(
    conv: &Conv2dGeometry,
    pool: &Pool2dGeometry,
    algorithm: ConvAlgorithm,
    need_dx: bool,
) -> Option<ConvReluPool> {
    let kernels = conv_kernels(conv, algorithm, need_dx);
    match (kernels.forward, kernels.backward) {
        (ConvKernel::Winograd, ConvKernel::Winograd) if winograd_pools_by_tile(conv, pool) => {
            Some(ConvReluPool::WinogradTiles)
        }
        (ConvKernel::Winograd, _) | (_, ConvKernel::Winograd) => None,
        _ => Some(ConvReluPool::Chunks(kernels)),
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
        // conv1 is the first layer: no dx.
        let kernels1 = conv_kernels(&conv1, ConvAlgorithm::Auto, false);
        assert!(matches!(
            kernels1.forward,
            ConvKernel::Im2colWindows | ConvKernel::Im2colPatches
        ));
        let vector = crate::conv2d::direct_has_vector_kernels();
        let backward1 = if vector {
            ConvKernel::Direct
        } else {
            ConvKernel::Im2colPatches
        };
        assert_eq!(kernels1.backward, backward1);
        assert_eq!(
            conv_kernels(&conv2, ConvAlgorithm::Auto, true),
            ConvKernels {
                forward: ConvKernel::Winograd,
                backward: ConvKernel::Winograd
            }
        );
        assert_eq!(
            conv_relu_pool(&conv1, &pool(&conv1), ConvAlgorithm::Auto, false),
            Some(ConvReluPool::Chunks(kernels1))
        );
        assert_eq!(
            conv_relu_pool(&conv2, &pool(&conv2), ConvAlgorithm::Auto, true),
            Some(ConvReluPool::WinogradTiles)
        );
        // Winograd asked for on a strided layer: im2col runs.
        let strided = conv([2, 9, 9, 32], [3, 3, 32, 32], 2);
        assert_eq!(
            forward_kernel(&strided, ConvAlgorithm::Winograd).algorithm(),
            ConvAlgorithm::Im2col
        );
        // A 3x3 pooling of a Winograd output: the two ops.
        let p3 = Pool2dGeometry::new(&conv2.y_shape(), (3, 3), (2, 2), Padding::Valid).unwrap();
        assert_eq!(conv_relu_pool(&conv2, &p3, ConvAlgorithm::Auto, true), None);
    }

    #[test]
    fn auto_gives_each_pass_the_kernel_measured_fastest_for_it() {
        if !crate::conv2d::direct_has_vector_kernels() {
            return;
        }
        let auto = |g: &Conv2dGeometry, need_dx| conv_kernels(g, ConvAlgorithm::Auto, need_dx);
        // A hidden layer's backward that Winograd does not take: direct on AVX-512 where C >= 16
        // (dx's sums fill whole registers), else im2col's one pass for dx and dw.
        let avx512 = crate::isa::active() == crate::isa::Isa::Avx512;
        let hidden_backward = |c: usize| {
            if avx512 && c >= AUTO_WINOGRAD_MIN_C {
                ConvKernel::Direct
            } else {
                ConvKernel::Im2colPatches
            }
        };
        // Many channels at stride 2: direct forward.
        let strided = conv([32, 14, 14, 32], [3, 3, 32, 64], 2);
        assert_eq!(
            auto(&strided, true),
            ConvKernels {
                forward: ConvKernel::Direct,
                backward: hidden_backward(32)
            }
        );
        assert_eq!(
            auto(&strided, true).name(),
            if avx512 {
                "direct"
            } else {
                "direct forward, im2col backward"
            }
        );
        // Winograd's shape with an odd output (5x5): not Winograd in either pass.
        let odd =
            Conv2dGeometry::new(&[32, 7, 7, 64], &[3, 3, 64, 64], (1, 1), Padding::Valid).unwrap();
        assert_eq!(auto(&odd, true).forward, ConvKernel::Direct);
        assert_eq!(auto(&odd, true).backward, hidden_backward(64));
        // 5x5 kernels on 32 channels (cifar_5x5's second layer), and LeNet-5's 6-channel one.
        let five = conv([32, 16, 16, 32], [5, 5, 32, 64], 1);
        assert_eq!(auto(&five, true).backward, hidden_backward(32));
        let lenet2 =
            Conv2dGeometry::new(&[32, 14, 14, 6], &[5, 5, 6, 16], (1, 1), Padding::Valid).unwrap();
        assert_eq!(auto(&lenet2, true).backward, ConvKernel::Im2colPatches);
        // LeNet-5's first layer: 6 filters fit no window GEMM; direct both ways.
        let lenet1 = conv([32, 28, 28, 1], [5, 5, 1, 6], 1);
        assert_eq!(auto(&lenet1, false).name(), "direct");
        // The batch never changes the choice (a chunk of images runs what the batch would).
        for g in [strided, odd, five, lenet2, lenet1] {
            let one = Conv2dGeometry { n: 1, ..g };
            assert_eq!(auto(&one, true), auto(&g, true));
            assert_eq!(auto(&one, false), auto(&g, false));
        }
    }
}
