//! im2col convolution: unroll windows into a patch matrix, then one GEMM.
//!
//! The patch matrix P has one row per output position (n, oy, ox) and one column per kernel tap
//! (ky, kx, ci), in that order, so its column order is the row order of the kernel reshaped to
//! W [KH*KW*C, CO]. Then
//! ```text
//! forward:   Y  = P · W + b        [N*HO*WO, CO], which is already y in NHWC
//! backward:  dW = Pᵀ · dY          [KH*KW*C, CO]
//!            dP = dY · Wᵀ          [N*HO*WO, KH*KW*C], then col2im adds each row back into dx
//!            db = column sums of dY
//! ```
//! The transposes are strides (`MatRef::t`), not copies. P is never built whole: both passes
//! work through the batch a few images at a time (a block), so each block of P is written and
//! read again while it is in cache, and the backward pass rebuilds its block rather than keeping
//! P from the forward (P would be 58 MB for conv2 at batch 256).

use std::cell::RefCell;

use rayon::prelude::*;

use super::{blocks, Conv2dGeometry, Conv2dGrads};
use crate::elementwise::relu_value;
use crate::gemm::{gemm_serial, small_gemm, window_gemm, Epilogue, MatMut, MatRef};
use crate::recycle;
use crate::Tensor;

thread_local! {
    /// Each thread's patch matrix buffer, kept between calls: allocating it afresh each step
    /// costs a memset or page faults every time.
    static PATCHES: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    /// Each thread's padded-image buffer (`Frame`), for the same reason.
    static FRAME: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Frees this thread's kept buffers (`recycle::release_scratch`), so the next call allocates
/// them again, where a memory meter sees them.
pub(crate) fn release_thread_buffers() {
    PATCHES.with(|b| drop(std::mem::take(&mut *b.borrow_mut())));
    FRAME.with(|b| drop(std::mem::take(&mut *b.borrow_mut())));
}

/// Target size of one block's patch matrix plus its slice of y (or dy): 256K values (1 MB), so
/// that both stay in one core's L2 cache (2 MB here) from im2col through the GEMM to the bias and
/// ReLU. conv2 (288 taps + 64 outputs per row, 196 rows per image) makes that 3 images; conv1
/// (9 + 32 per row, 784 rows) 8.
const BLOCK_VALUES: usize = 1 << 18;

/// A batch is cut into at least this many blocks (when it has that many images), so that both
/// threads have work even when one block would fit in cache (conv1: 9 taps per row).
const MIN_BLOCKS: usize = 8;

/// How many images go in one block. The blocks depend on the shapes only, never on the number of
/// threads, so the order in which block partial sums are added (dw, db) is fixed: the result is
/// the same on 1 thread or 2.
fn images_per_block(g: &Conv2dGeometry) -> usize {
    let per_image = g.ho * g.wo * (g.kh * g.kw * g.c + g.co);
    (BLOCK_VALUES / per_image)
        .clamp(1, g.n)
        .min(g.n.div_ceil(MIN_BLOCKS))
}

/// Runs `f` on a buffer of `len` floats (contents unspecified), reusing this thread's patch
/// buffer when it is free (a fresh one otherwise, e.g. if a conv runs inside another's `f`).
fn with_patch_buffer<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    with_buffer(&PATCHES, len, f)
}

/// The same with this thread's frame buffer.
fn with_frame_buffer<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    with_buffer(&FRAME, len, f)
}

fn with_buffer<R>(
    key: &'static std::thread::LocalKey<RefCell<Vec<f32>>>,
    len: usize,
    f: impl FnOnce(&mut [f32]) -> R,
) -> R {
    key.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buffer) => {
            if buffer.len() < len {
                buffer.resize(len, 0.0);
            }
            f(&mut buffer[..len])
        }
        Err(_) => f(&mut vec![0.0; len]),
    })
}

/// Writes the rows of the patch matrix that belong to images `first_image..`, as many images as
/// `patches` holds (HO*WO rows of KH*KW*C taps each). Each image is first copied into a
/// zero-padded frame, so every window lies inside it and a kernel row's KW taps are one run of
/// KW*C contiguous values (KW neighbouring pixels in NHWC), whatever the padding: no tap tests
/// an edge. `patches` may hold anything on entry.
fn im2col_images(g: &Conv2dGeometry, x: &[f32], first_image: usize, patches: &mut [f32]) {
    let k = g.kh * g.kw * g.c;
    let per_image = g.ho * g.wo * k;
    assert!(
        patches.len().is_multiple_of(per_image)
            && first_image * per_image + patches.len() <= g.n * per_image,
        "im2col: patch buffer size"
    );
    let frame = Frame::new(g);
    let image_len = g.h * g.w * g.c;
    let run = g.kw * g.c;
    with_frame_buffer(frame.len(g), |padded| {
        for (i, p_image) in patches.chunks_exact_mut(per_image).enumerate() {
            frame.fill(g, &x[(first_image + i) * image_len..][..image_len], padded);
            for (pos, patch) in p_image.chunks_exact_mut(k).enumerate() {
                let (oy, ox) = (pos / g.wo, pos % g.wo);
                for (ky, taps) in patch.chunks_exact_mut(run).enumerate() {
                    let at = ((oy * g.sh + ky) * frame.cols + ox * g.sw) * g.c;
                    copy_run(taps, &padded[at..][..run]);
                }
            }
        }
    });
}

/// `dst.copy_from_slice(src)`, with the short runs of a one-channel input (conv1: 3 values per
/// kernel row) copied inline: as calls to memcpy they took most of conv1's forward time (perf).
#[inline(always)]
fn copy_run(dst: &mut [f32], src: &[f32]) {
    fn fixed<const N: usize>(dst: &mut [f32], src: &[f32]) {
        let dst: &mut [f32; N] = dst.try_into().expect("copy_run: length");
        dst.copy_from_slice(&src[..N]);
    }
    match dst.len() {
        1 => fixed::<1>(dst, src),
        2 => fixed::<2>(dst, src),
        3 => fixed::<3>(dst, src),
        4 => fixed::<4>(dst, src),
        _ => dst.copy_from_slice(src),
    }
}

/// The adjoint of `im2col`: adds every patch-matrix entry back into the input position it was
/// copied from. `dx` holds whole images (as many as `dpatches` has rows for) and is overwritten.
fn col2im(g: &Conv2dGeometry, dpatches: &[f32], dx: &mut [f32]) {
    let k = g.kh * g.kw * g.c;
    let image = g.h * g.w * g.c;
    for (dx_img, dp_img) in dx
        .chunks_exact_mut(image)
        .zip(dpatches.chunks_exact(g.ho * g.wo * k))
    {
        dx_img.fill(0.0);
        for (pos, patch) in dp_img.chunks_exact(k).enumerate() {
            let (oy, ox) = (pos / g.wo, pos % g.wo);
            for ky in 0..g.kh {
                let Some(iy) = g.input_row(oy, ky) else {
                    continue;
                };
                for kx in 0..g.kw {
                    let Some(ix) = g.input_col(ox, kx) else {
                        continue;
                    };
                    let tap = &patch[(ky * g.kw + kx) * g.c..][..g.c];
                    let dx_px = &mut dx_img[(iy * g.w + ix) * g.c..][..g.c];
                    for (d, &v) in dx_px.iter_mut().zip(tap) {
                        *d += v;
                    }
                }
            }
        }
    }
}

/// y = conv2d(x, w) + b by im2col and GEMM. Shapes as in the module docs.
///
/// The batch is cut into blocks of a few images (`images_per_block`), one rayon task each: a
/// task builds its block's patch matrix and multiplies it on one thread while it is still in
/// that core's cache, so the two threads never share a GEMM or wait for each other.
/// The patch matrix of the whole batch, as the forward builds it block by block: one row per
/// output pixel (n, oy, ox), one column per kernel tap (ky, kx, c), zero where a tap falls in the
/// padding. (N·HO·WO, KH·KW·C) row-major; `y = patches · w` with w as (KH·KW·C, CO). For a
/// reader (`convlab explain im2col`); the kernels never hold the whole matrix at once.
pub fn patch_matrix(g: &Conv2dGeometry, x: &Tensor) -> Vec<f32> {
    g.assert_shapes("conv2d patch matrix", &[("x", x, g.x_shape())]);
    let mut patches = vec![0.0; g.n * g.ho * g.wo * g.kh * g.kw * g.c];
    im2col_images(g, x.data(), 0, &mut patches);
    patches
}

pub fn im2col_forward(g: &Conv2dGeometry, x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Tensor {
    forward(g, x, w, b, false)
}

/// The forward pass, followed by ReLU if `relu`: each block is rectified right after its GEMM,
/// while it is still in cache, instead of in a second pass over all of y.
pub(super) fn forward(
    g: &Conv2dGeometry,
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    relu: bool,
) -> Tensor {
    g.assert_shapes(
        "conv2d im2col forward",
        &[("x", x, g.x_shape()), ("w", w, g.w_shape())],
    );
    if let Some(b) = b {
        g.assert_bias("conv2d im2col forward", b);
    }
    let images = images_per_block(g);
    // Every element is written by its block's GEMM, so recycled storage needs no zeroing.
    let mut y = recycle::take(g.n * g.ho * g.wo * g.co);
    let blocks = y.par_chunks_mut(images * g.ho * g.wo * g.co).enumerate();
    // The plan decides whether the forward reads windows (`plan::ConvKernel::Im2colWindows`).
    let kernel = crate::plan::forward_kernel(g, crate::ConvAlgorithm::Im2col);
    if kernel == crate::plan::ConvKernel::Im2colWindows {
        blocks.for_each(|(block, y_block)| {
            windows_forward(g, x, w, b, relu, block * images, y_block)
        });
    } else {
        blocks.for_each(|(block, y_block)| {
            patches_forward(g, x, w, b, relu, block * images, y_block)
        });
    }
    Tensor::from_vec("conv2d im2col forward", &g.y_shape(), y)
}

/// One block of the forward pass through the patch matrix: build it, multiply, then the
/// epilogue (+ b, ReLU if fused) while the block is still in cache.
pub(super) fn patches_forward(
    g: &Conv2dGeometry,
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    relu: bool,
    first_image: usize,
    y_block: &mut [f32],
) {
    let k = g.kh * g.kw * g.c;
    let rows = y_block.len() / g.co;
    with_patch_buffer(rows * k, |patches| {
        im2col_images(g, x.data(), first_image, patches);
        small_gemm(
            MatRef::row_major(patches, rows, k),
            MatRef::row_major(w.data(), k, g.co),
            MatMut::row_major(y_block, rows, g.co),
        );
        if let Some(b) = b {
            for y_row in y_block.chunks_exact_mut(g.co) {
                y_row.iter_mut().zip(b.data()).for_each(|(y, &b)| *y += b);
            }
        }
        if relu {
            y_block.iter_mut().for_each(|v| *v = relu_value(*v));
        }
    });
}

/// One block of the forward pass without the patch matrix: each image is copied into a
/// zero-padded frame, and `window_gemm` reads every output row's patches straight from it
/// (row i of the patches of output row oy starts at padded pixel (oy * SH, i * SW); tap
/// (ky, kx, ci) is `taps[(ky * KW + kx) * C + ci]` values further), adding b and applying the
/// ReLU before it stores y. The same sums, in the same order, as `patches_forward`.
pub(super) fn windows_forward(
    g: &Conv2dGeometry,
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    relu: bool,
    first_image: usize,
    y_block: &mut [f32],
) {
    let frame = Frame::new(g);
    let taps = frame.taps(g);
    let epilogue = Epilogue {
        bias: b.map(Tensor::data),
        relu,
    };
    let image_len = g.h * g.w * g.c;
    let y_image_len = g.ho * g.wo * g.co;
    with_frame_buffer(frame.len(g), |padded| {
        for (i, y_image) in y_block.chunks_exact_mut(y_image_len).enumerate() {
            let image = &x.data()[(first_image + i) * image_len..][..image_len];
            frame.fill(g, image, padded);
            for (oy, y_row) in y_image.chunks_exact_mut(g.wo * g.co).enumerate() {
                window_gemm(
                    &padded[oy * g.sh * frame.cols * g.c..],
                    g.sw * g.c,
                    &taps,
                    MatRef::row_major(w.data(), taps.len(), g.co),
                    MatMut::row_major(y_row, g.wo, g.co),
                    epilogue,
                );
            }
        }
    });
}

/// An image with its zero padding: exactly the rows and columns the output's windows reach,
/// image pixel (iy, ix) at (iy + pad_top, ix + pad_left).
struct Frame {
    rows: usize,
    cols: usize,
}

impl Frame {
    fn new(g: &Conv2dGeometry) -> Frame {
        Frame {
            rows: (g.ho - 1) * g.sh + g.kh,
            cols: (g.wo - 1) * g.sw + g.kw,
        }
    }

    fn len(&self, g: &Conv2dGeometry) -> usize {
        self.rows * self.cols * g.c
    }

    /// Where tap (ky, kx, ci) of a window lies from the window's first value, in the
    /// patch matrix's column order.
    fn taps(&self, g: &Conv2dGeometry) -> Vec<usize> {
        let mut taps = Vec::with_capacity(g.kh * g.kw * g.c);
        for ky in 0..g.kh {
            for kx in 0..g.kw {
                taps.extend((0..g.c).map(|ci| (ky * self.cols + kx) * g.c + ci));
            }
        }
        taps
    }

    /// Copies one image (H, W, C) into `padded`, zero around it; rows or columns beyond what
    /// the windows reach (the end of a `valid` convolution that does not divide) are left out.
    fn fill(&self, g: &Conv2dGeometry, image: &[f32], padded: &mut [f32]) {
        padded.fill(0.0);
        let cols = g.w.min(self.cols - g.pad_left);
        for (iy, row) in image.chunks_exact(g.w * g.c).enumerate() {
            let py = iy + g.pad_top;
            if py >= self.rows {
                break;
            }
            padded[(py * self.cols + g.pad_left) * g.c..][..cols * g.c]
                .copy_from_slice(&row[..cols * g.c]);
        }
    }
}

/// Gradients of the im2col convolution (see the module docs for the three products). dx is
/// computed only if `need_dx` (not for a first layer, whose input is the data).
///
/// Blocked like the forward pass: each task rebuilds its block's patch matrix, adds Pᵀ·dY into
/// the block's own partial dw (and its column sums into a partial db), then reuses the buffer
/// for dP = dY·Wᵀ and scatters it into its images of dx. The partial sums are added in block
/// order afterwards, so the result does not depend on which thread ran which block.
pub fn im2col_backward(
    g: &Conv2dGeometry,
    x: &Tensor,
    w: &Tensor,
    dy: &Tensor,
    need_dx: bool,
) -> Conv2dGrads {
    backward(g, x, w, None, dy, need_dx)
}

/// The backward pass; with `relu_y` (the output of a fused conv + ReLU), dy is first masked
/// where y is not positive, block by block, which is ReLU's backward without a tensor of its own.
pub(super) fn backward(
    g: &Conv2dGeometry,
    x: &Tensor,
    w: &Tensor,
    relu_y: Option<&Tensor>,
    dy: &Tensor,
    need_dx: bool,
) -> Conv2dGrads {
    if let Some(y) = relu_y {
        g.assert_shapes("conv2d+relu im2col backward", &[("y", y, g.y_shape())]);
    }
    g.assert_shapes(
        "conv2d im2col backward",
        &[
            ("x", x, g.x_shape()),
            ("w", w, g.w_shape()),
            ("dy", dy, g.y_shape()),
        ],
    );
    let k = g.kh * g.kw * g.c;
    let images = images_per_block(g);
    // col2im zeroes each image of dx before adding into it.
    let mut dx = recycle::take(if need_dx { g.n * g.h * g.w * g.c } else { 0 });
    let dx_blocks = blocks::dx_blocks(g, &mut dx, images, need_dx);
    let partials: Vec<(Vec<f32>, Vec<f32>)> = dx_blocks
        .into_par_iter()
        .zip(dy.data().par_chunks(images * g.ho * g.wo * g.co))
        .enumerate()
        .map(|(block, (dx_block, dy_block))| {
            let rows = dy_block.len() / g.co;
            let first = block * images * g.ho * g.wo * g.co;
            blocks::with_masked_dy(
                dy_block,
                relu_y.map(Tensor::data),
                first,
                g.co,
                |dy_block, db| {
                    let mut dw = vec![0.0f32; k * g.co];
                    with_patch_buffer(rows * k, |patches| {
                        im2col_images(g, x.data(), block * images, patches);
                        // dW = Pᵀ · dY: P is read transposed through its strides.
                        small_gemm(
                            MatRef::row_major(patches, rows, k).t(),
                            MatRef::row_major(dy_block, rows, g.co),
                            MatMut::row_major(&mut dw, k, g.co),
                        );
                        if let Some(dx_block) = dx_block {
                            // dP = dY · Wᵀ into the same buffer (P is no longer needed), then col2im.
                            gemm_serial(
                                1.0,
                                MatRef::row_major(dy_block, rows, g.co),
                                MatRef::row_major(w.data(), k, g.co).t(),
                                0.0,
                                MatMut::row_major(patches, rows, k),
                            );
                            col2im(g, patches, dx_block);
                        }
                    });
                    (dw, db)
                },
            )
        })
        .collect();
    let (dw, db) = blocks::sum_partials(&partials, k * g.co, g.co);
    Conv2dGrads {
        dx: need_dx.then(|| Tensor::from_vec("conv2d im2col backward", &g.x_shape(), dx)),
        dw: Tensor::from_vec("conv2d im2col backward", &g.w_shape(), dw),
        db: Tensor::from_vec("conv2d im2col backward", &[g.co], db),
    }
}
