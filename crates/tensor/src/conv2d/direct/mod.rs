//! Direct convolution: no patch matrix. Every output is summed in vector registers straight
//! from the input, as Zhang, Franchetti and Low do ("High Performance Zero-Memory Overhead
//! Direct Convolutions", ICML 2018); tested against the f64 reference (`crate::reference::
//! conv2d_forward`, `conv2d_backward_x`, `conv2d_backward_w`, `conv2d_backward_b`).
//!
//! # Blocking: what sits in registers
//! The micro-kernels (`kernels.rs`) hold a block of R x CV vectors of sums: on AVX-512, R = 6
//! rows of 4 zmm registers (64 channels) = 24 of the 32 registers, 4 more for one step's
//! weights, one for a broadcast; on AVX2, 6 x 2 ymm = 12 of 16. Fewer channels use narrower,
//! taller blocks (`Blocking::for_channels`).
//!
//! - **Forward** `y[n, oy, ox.., co..]`: the rows are R neighbouring output pixels of one output
//!   row, the vectors CV x L output channels. One step of the reduction is one (ky, kx, ci):
//!   load `w[ky, kx, ci, co..]` (CV vectors), broadcast `x[n, iy, ix_j, ci]` for each pixel j
//!   and multiply-add: R x CV FMAs for CV loads and R broadcasts. The reduction runs over every
//!   (ky, kx, ci) of the window before the block is stored (+ bias, ReLU if fused), once.
//! - **dx** is the same kernel on dy with the transposed kernel, gathered per input pixel:
//!   `dx[n, iy, ix, ci..] = Σ dy[n, oy, ox, co] · w[ky, kx, ci.., co]` over the (oy, ox, ky, kx)
//!   that read (iy, ix). At stride s the pixels ix, ix + s, ix + 2s, .. read the same taps
//!   from consecutive dy pixels, so a block is R input pixels s apart.
//! - **dw** `dw[ky, kx, ci, co..]`: the rows are R consecutive kernel elements m = (ky, kx, ci),
//!   the vectors CV x L output channels; one step is one output pixel (n, oy, ox): load
//!   `dy[n, oy, ox, co..]`, broadcast the input value each m read there, multiply-add. The block
//!   sums over the whole batch before it is stored: no partial sums.
//! - **db**: the column sums of dy (`bias_grad`).
//!
//! The weights are packed first (forward: `[co block][ky][kx][ci][CV x L]`, dx: the transpose,
//! `[ci block][ky][kx][co][CV x L]`, zero past the last channel), so that one step's weights are
//! CV contiguous vectors. NHWC stays the public layout.
//!
//! Padding is never materialised. Forward, a task takes a band of output rows (at least 256
//! pixels, so a block of packed weights brought into cache feeds many blocks of pixels) and
//! groups its pixels by the taps they read: inside the image one group, and a few small ones
//! for the border pixels whose windows hang over the edge (a left-edge group holds that
//! column's pixels of every row in the band). Each group is cut into blocks of about R pixels,
//! whatever rows they lie on: the kernel takes each pixel's own input and output offsets.
//! dx does the same along runs of an input row. dw sums over the rectangle of pixels where all
//! of a block's kernel elements read the input, then adds the border strips element by
//! element.
//!
//! # Memory
//! Beyond its inputs and outputs: the packed kernel (KH·KW·C·CO floats, rounded up to whole
//! blocks of channels) and, for dw, one block's sums per task and a kernel-sized result to
//! scatter: O(kernel size), independent of batch and image size.
//!
//! # Order of sums
//! Each output element is summed in one register lane, in a fixed order (taps, then channels;
//! or images, rows, columns), whatever block or thread computes it: the bits depend neither on
//! the thread count nor on how a batch is cut into chunks.
//!
//! Where convlab has no vector kernel (`Baseline`, non-x86 CPUs) `portable.rs` runs: the same
//! algorithm with one axpy per tap, vectorised by the compiler.

mod kernels;
mod lanes;
mod portable;

use std::ops::Range;

use rayon::prelude::*;

use super::{bias_grad, blocks, Conv2dGeometry, Conv2dGrads};
use crate::isa::Isa;
use crate::{elementwise, recycle, Tensor};
use kernels::{Blocking, DotsCall, PixelsCall, Tap, TapsCall, DOT_ROWS};

/// y = conv2d(x, w) + b without a patch matrix. Shapes as in the module docs of `conv2d`.
pub fn direct_forward(g: &Conv2dGeometry, x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Tensor {
    forward(g, x, w, b, false)
}

/// `direct_forward`, then ReLU if `relu` (fused into the kernel's store on the vector path).
pub(crate) fn forward(
    g: &Conv2dGeometry,
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    relu: bool,
) -> Tensor {
    g.assert_shapes(
        "conv2d direct forward",
        &[("x", x, g.x_shape()), ("w", w, g.w_shape())],
    );
    if let Some(b) = b {
        g.assert_bias("conv2d direct forward", b);
    }
    let y = forward_on(
        crate::isa::active(),
        g,
        x.data(),
        w.data(),
        b.map(Tensor::data),
        relu,
    );
    Tensor::from_vec("conv2d direct forward", &g.y_shape(), y)
}

/// Gradients of the direct convolution; dx only if `need_dx`.
pub fn direct_backward(
    g: &Conv2dGeometry,
    x: &Tensor,
    w: &Tensor,
    dy: &Tensor,
    need_dx: bool,
) -> Conv2dGrads {
    g.assert_shapes(
        "conv2d direct backward",
        &[
            ("x", x, g.x_shape()),
            ("w", w, g.w_shape()),
            ("dy", dy, g.y_shape()),
        ],
    );
    let isa = crate::isa::active();
    let dx = need_dx.then(|| {
        let dx = input_grad_on(isa, g, w.data(), dy.data());
        Tensor::from_vec("conv2d direct backward", &g.x_shape(), dx)
    });
    let dw = kernel_grad_on(isa, g, x.data(), dy.data());
    Conv2dGrads {
        dx,
        dw: Tensor::from_vec("conv2d direct backward", &g.w_shape(), dw),
        db: bias_grad(g, dy.data()),
    }
}

/// Gradients of relu(direct convolution), given the ReLU's output `y`: the bits of
/// `elementwise::relu_backward` followed by `direct_backward`, but the masked dy goes into a
/// recycled buffer in the same parallel pass that sums db (a fresh 4 MB dy for vgg_cifar10's
/// first layer cost 0.4 ms a step in page faults and a pass of its own, then a serial db).
pub(crate) fn relu_backward(
    g: &Conv2dGeometry,
    x: &Tensor,
    w: &Tensor,
    y: &Tensor,
    dy: &Tensor,
    need_dx: bool,
) -> Conv2dGrads {
    g.assert_shapes(
        "conv2d direct relu backward",
        &[
            ("x", x, g.x_shape()),
            ("w", w, g.w_shape()),
            ("y", y, g.y_shape()),
            ("dy", dy, g.y_shape()),
        ],
    );
    let mut masked = recycle::take(dy.len());
    let db = blocks::masked_dy_column_sums(y.data(), dy.data(), &mut masked, g.co);
    let isa = crate::isa::active();
    let dx = need_dx.then(|| {
        let dx = input_grad_on(isa, g, w.data(), &masked);
        Tensor::from_vec("conv2d direct backward", &g.x_shape(), dx)
    });
    let dw = kernel_grad_on(isa, g, x.data(), &masked);
    recycle::give(masked);
    Conv2dGrads {
        dx,
        dw: Tensor::from_vec("conv2d direct backward", &g.w_shape(), dw),
        db: Tensor::from_vec("conv2d direct backward", &[g.co], db),
    }
}

/// dx alone (`bench conv`'s bwd_data): the transposed convolution of dy.
pub fn direct_backward_data(g: &Conv2dGeometry, w: &Tensor, dy: &Tensor) -> Tensor {
    g.assert_shapes(
        "conv2d direct backward data",
        &[("w", w, g.w_shape()), ("dy", dy, g.y_shape())],
    );
    let dx = input_grad_on(crate::isa::active(), g, w.data(), dy.data());
    Tensor::from_vec("conv2d direct backward data", &g.x_shape(), dx)
}

/// db alone (`bench conv`'s bwd_bias): the column sums of dy.
pub fn direct_backward_bias(g: &Conv2dGeometry, dy: &Tensor) -> Tensor {
    g.assert_shapes("conv2d direct backward bias", &[("dy", dy, g.y_shape())]);
    bias_grad(g, dy.data())
}

/// Whether this CPU runs direct convolution's vector kernels (AVX2 + FMA or AVX-512 on x86-64);
/// elsewhere `portable.rs` runs, which `plan` does not choose on its own.
pub fn has_vector_kernels() -> bool {
    Blocking::for_channels(crate::isa::active(), 1).is_some()
}

/// The forward pass with the vector kernels of `isa` (the portable loops for `Baseline`).
pub(crate) fn forward_on(
    isa: Isa,
    g: &Conv2dGeometry,
    x: &[f32],
    w: &[f32],
    b: Option<&[f32]>,
    relu: bool,
) -> Vec<f32> {
    let Some(blocking) = Blocking::for_channels(isa, g.co) else {
        let mut y = portable::forward(g, x, w, b);
        if relu {
            y.iter_mut().for_each(|v| *v = elementwise::relu_value(*v));
        }
        return y;
    };
    let width = blocking.width();
    let blocks = g.co.div_ceil(width);
    let taps = g.kh * g.kw;
    let packed = pack(taps, g.c, g.co, width, |t, ci, co| {
        w[(t * g.c + ci) * g.co + co]
    });
    let bias = b.map(|b| {
        let mut padded = vec![0.0f32; blocks * width];
        padded[..g.co].copy_from_slice(b);
        padded
    });
    // Every element is stored by exactly one block, so a recycled buffer will do.
    let mut y = crate::recycle::take(g.n * g.ho * g.wo * g.co);
    // One task per band of output rows: enough pixels that each block of packed weights,
    // brought into cache, serves many of them.
    let band = band_rows(g.wo, g.n * g.ho);
    // Each output column's kernel columns, numbered: the few border columns have their own
    // classes, every interior column the same one. Found once here, not per pixel per task
    // (with one input channel the search cost more than the pixel's multiply-adds).
    let mut col_classes: Vec<Range<usize>> = Vec::new();
    let col_class: Vec<usize> = (0..g.wo)
        .map(|ox| class_of(&mut col_classes, kernel_cols(g, ox)))
        .collect();
    y.par_chunks_mut(band * g.wo * g.co)
        .enumerate()
        .for_each(|(task, y_band)| {
            // The band's pixels, grouped by the taps they read: (kernel rows, kernel columns).
            // Inside the image that is one group; border pixels, whose windows hang over the
            // edge, form a few more. A group is cut into blocks whatever rows its pixels are on.
            // Group (row class, column class) sits at row class * column classes + column class.
            let mut row_classes: Vec<Range<usize>> = Vec::new();
            let mut groups: Vec<Group> = Vec::new();
            for r in 0..y_band.len() / (g.wo * g.co) {
                let row = task * band + r;
                let (n, oy) = (row / g.ho, row % g.ho);
                let ky = kernel_rows(g, oy);
                let first = class_of(&mut row_classes, ky.clone()) * col_classes.len();
                if groups.len() < first + col_classes.len() {
                    groups.extend(
                        col_classes
                            .iter()
                            .map(|kx| (ky.clone(), kx.clone(), Vec::new(), Vec::new())),
                    );
                }
                for (ox, &cx) in col_class.iter().enumerate() {
                    let kx = &col_classes[cx];
                    // Where the pixel's first tap that exists reads x.
                    let origin = if ky.is_empty() || kx.is_empty() {
                        0
                    } else {
                        let iy = oy * g.sh + ky.start - g.pad_top;
                        let ix = ox * g.sw + kx.start - g.pad_left;
                        ((n * g.h + iy) * g.w + ix) * g.c
                    };
                    let (.., inputs, outputs) = &mut groups[first + cx];
                    inputs.push(origin);
                    outputs.push((r * g.wo + ox) * g.co);
                }
            }
            groups.retain(|(.., inputs, _)| !inputs.is_empty());
            let mut tap_list = Vec::with_capacity(g.kh);
            for cb in 0..blocks {
                for (ky, kx, inputs, outputs) in &groups {
                    tap_list.clear();
                    if !kx.is_empty() {
                        // kx.start..kx.end are adjacent in x and in the packed kernel: one run
                        // of (kx, ci) per kernel row.
                        for row in ky.clone() {
                            tap_list.push(Tap {
                                input: (row - ky.start) * g.w * g.c,
                                weights: (cb * taps + row * g.kw + kx.start) * g.c * width,
                                len: kx.len() * g.c,
                            });
                        }
                    }
                    let call = TapsCall {
                        input: x,
                        taps: &tap_list,
                        weights: &packed,
                        bias: bias.as_ref().map(|b| &b[cb * width..][..width]),
                        relu,
                        channels: (g.co - cb * width).min(width),
                    };
                    let out = &mut y_band[cb * width..];
                    for block in balanced(0..inputs.len(), blocking.rows) {
                        let (i, o) = (&inputs[block.clone()], &outputs[block]);
                        kernels::taps_block(blocking, &call, i, o, out);
                    }
                }
            }
        });
    y
}

/// Pixels that read the same taps: kernel rows, kernel columns, where each pixel's first tap
/// reads the input and where its sums go.
type Group = (Range<usize>, Range<usize>, Vec<usize>, Vec<usize>);

/// Output rows per task: at least 256 pixels (a block of packed weights, loaded once into
/// cache, then feeds about forty blocks of pixels, and a border group has a column of about
/// ten pixels, not one), but at least four tasks a thread.
fn band_rows(row_len: usize, rows: usize) -> usize {
    let for_reuse = 256usize.div_ceil(row_len.max(1));
    let for_balance = rows.div_ceil(4 * rayon::current_num_threads());
    for_reuse.min(for_balance).max(1)
}

/// dx with the vector kernels of `isa`: a transposed convolution gathered per input pixel.
///
/// As in the forward pass, a task takes a band of input rows and groups its pixels by the taps
/// that carry them to an output (kernel rows, kernel columns): inside the image one group, and
/// a few for the border pixels, whose windows hang over the edge of dy. A group is cut into
/// full blocks whatever rows its pixels lie on: one task per input row left each border
/// column a block of one pixel, two accumulators behind the FMA's latency, and made dx of a
/// 16x16x32 5x5 layer 30% slower than its forward pass.
pub(crate) fn input_grad_on(isa: Isa, g: &Conv2dGeometry, w: &[f32], dy: &[f32]) -> Vec<f32> {
    let Some(blocking) = Blocking::for_channels(isa, g.c) else {
        return portable::input_grad(g, w, dy);
    };
    let width = blocking.width();
    let taps = g.kh * g.kw;
    // Few input channels (a first layer's 1 or 3) would leave most lanes of a vector over ci
    // empty: then dot products over co (`kernels::dots_block`), if they take fewer FMAs.
    let lanes = blocking.lanes();
    let dots = g.c * g.co.div_ceil(lanes) < g.c.div_ceil(width) * blocking.cv * g.co;
    let blocks = if dots { 1 } else { g.c.div_ceil(width) };
    let packed = if dots {
        Vec::new()
    } else {
        pack(taps, g.co, g.c, width, |t, co, ci| {
            w[(t * g.c + ci) * g.co + co]
        })
    };
    // Each input row's kernel rows that carry it to an output row, numbered as classes (the
    // interior rows share one; border rows, and rows a stride skips, have their own), and the
    // same for columns. Found once here, not per pixel per task.
    let (row_classes, row_class) = tap_classes(g.h, g.kh, g.pad_top, g.sh, g.ho);
    let (col_classes, col_class) = tap_classes(g.w, g.kw, g.pad_left, g.sw, g.wo);
    // Every input pixel is in exactly one block (one with no taps stores zeros).
    let mut dx = crate::recycle::take(g.n * g.h * g.w * g.c);
    let band = band_rows(g.w, g.n * g.h);
    dx.par_chunks_mut(band * g.w * g.c)
        .enumerate()
        .for_each(|(task, dx_band)| {
            // Group (row class, column class) at row class * column classes + column class:
            // where each pixel's last tap (the lowest dy pixel it reads) is in dy, and where
            // its sums go in the band.
            let mut groups: Vec<(Vec<usize>, Vec<usize>)> =
                vec![(Vec::new(), Vec::new()); row_classes.len() * col_classes.len()];
            for r in 0..dx_band.len() / (g.w * g.c) {
                let row = task * band + r;
                let (n, iy) = (row / g.h, row % g.h);
                let kys = &row_classes[row_class[iy]];
                for (ix, &cx) in col_class.iter().enumerate() {
                    let kxs = &col_classes[cx];
                    let origin = match (kys.last(), kxs.last()) {
                        (Some(&ky), Some(&kx)) => {
                            let oy = (iy + g.pad_top - ky) / g.sh;
                            let ox = (ix + g.pad_left - kx) / g.sw;
                            ((n * g.ho + oy) * g.wo + ox) * g.co
                        }
                        _ => 0,
                    };
                    let (inputs, outputs) = &mut groups[row_class[iy] * col_classes.len() + cx];
                    inputs.push(origin);
                    outputs.push((r * g.w + ix) * g.c);
                }
            }
            let mut tap_list = Vec::with_capacity(taps);
            for (group, (origins, places)) in groups.iter().enumerate() {
                if origins.is_empty() {
                    continue;
                }
                let kys = &row_classes[group / col_classes.len()];
                let kxs = &col_classes[group % col_classes.len()];
                for cb in 0..blocks {
                    // Taps in (ky, kx) order, each reading dy relative to the pixel's last tap:
                    // the order every pixel's sum takes, whatever its block.
                    tap_list.clear();
                    for &ky in kys {
                        for &kx in kxs {
                            let up = (kys[kys.len() - 1] - ky) / g.sh;
                            let left = (kxs[kxs.len() - 1] - kx) / g.sw;
                            let tap = ky * g.kw + kx;
                            tap_list.push(Tap {
                                input: (up * g.wo + left) * g.co,
                                weights: if dots {
                                    tap * g.c * g.co
                                } else {
                                    (cb * taps + tap) * g.co * width
                                },
                                len: g.co,
                            });
                        }
                    }
                    if dots {
                        let (mut inputs, mut outputs) = ([0usize; DOT_ROWS], [0usize; DOT_ROWS]);
                        for ci in 0..g.c {
                            let call = DotsCall {
                                dy,
                                w: &w[ci * g.co..],
                                taps: &tap_list,
                            };
                            for block in balanced(0..origins.len(), DOT_ROWS) {
                                let rows = block.len();
                                for (j, p) in block.enumerate() {
                                    inputs[j] = origins[p];
                                    outputs[j] = places[p] + ci;
                                }
                                let (i, o) = (&inputs[..rows], &outputs[..rows]);
                                kernels::dots_block(isa, &call, i, o, dx_band);
                            }
                        }
                        continue;
                    }
                    let call = TapsCall {
                        input: dy,
                        taps: &tap_list,
                        weights: &packed,
                        bias: None,
                        relu: false,
                        channels: (g.c - cb * width).min(width),
                    };
                    let out = &mut dx_band[cb * width..];
                    for block in balanced(0..origins.len(), blocking.rows) {
                        let (i, o) = (&origins[block.clone()], &places[block]);
                        kernels::taps_block(blocking, &call, i, o, out);
                    }
                }
            }
        });
    dx
}

/// dw summed over the batch with the vector kernels of `isa`.
pub(crate) fn kernel_grad_on(isa: Isa, g: &Conv2dGeometry, x: &[f32], dy: &[f32]) -> Vec<f32> {
    let Some(blocking) = Blocking::for_channels(isa, g.co) else {
        return portable::kernel_grad(g, x, dy);
    };
    let width = blocking.width();
    let col_blocks = g.co.div_ceil(width);
    // The kernel elements m = (ky, kx, ci), in w's order, cut into blocks of at most R. With
    // C >= R, a tap's C elements are cut into equal blocks of their own, so that a block's
    // elements read the same pixels (no border strips, below); with fewer channels a block
    // spans taps.
    let elements = g.kh * g.kw * g.c;
    let row_blocks: Vec<Range<usize>> = if g.c >= blocking.rows {
        let per_tap = g.c.div_ceil(blocking.rows);
        (0..g.kh * g.kw)
            .flat_map(|tap| {
                (0..per_tap).map(move |i| {
                    tap * g.c + i * g.c / per_tap..tap * g.c + (i + 1) * g.c / per_tap
                })
            })
            .collect()
    } else {
        (0..elements)
            .step_by(blocking.rows)
            .map(|m| m..(m + blocking.rows).min(elements))
            .collect()
    };
    // Each task: one block of kernel elements by one block of channels, with the input offset
    // of each element and the output pixels where it reads the input.
    let tasks: Vec<DwTask> = (0..row_blocks.len() * col_blocks)
        .map(|task| {
            let (rb, cb) = (task / col_blocks, task % col_blocks);
            let mut offsets = Vec::new();
            let mut windows = Vec::new();
            for m in row_blocks[rb].clone() {
                let (tap, ci) = (m / g.c, m % g.c);
                let (ky, kx) = (tap / g.kw, tap % g.kw);
                let dy_rows = reading_pixels(ky, g.pad_top, g.sh, g.h, g.ho);
                let dy_cols = reading_pixels(kx, g.pad_left, g.sw, g.w, g.wo);
                let up = ky as isize - g.pad_top as isize;
                let left = kx as isize - g.pad_left as isize;
                offsets.push((up * g.w as isize + left) * g.c as isize + ci as isize);
                windows.push((dy_rows, dy_cols));
            }
            // The pixels where every element of the block reads the input.
            let rows_all = intersect(windows.iter().map(|w| w.0.clone()));
            let cols_all = intersect(windows.iter().map(|w| w.1.clone()));
            DwTask {
                elements: row_blocks[rb].clone(),
                cb,
                offsets,
                windows,
                rows_all,
                cols_all,
            }
        })
        .collect();
    let mut blocks: Vec<Vec<f32>> = tasks
        .iter()
        .map(|t| vec![0.0f32; t.offsets.len() * width])
        .collect();
    // The batch in chunks whose x and dy stay in L2 while every task walks them, in a fixed
    // order; each task carries its sums from chunk to chunk (zero to start with).
    for (images, band) in dw_chunks(g) {
        tasks
            .par_iter()
            .zip(blocks.par_iter_mut())
            .for_each(|(task, sums)| {
                let call = |rows: Range<usize>, cols: Range<usize>| PixelsCall {
                    g,
                    x,
                    dy,
                    co0: task.cb * width,
                    channels: (g.co - task.cb * width).min(width),
                    images: images.clone(),
                    rows: intersect([rows, band.clone()].into_iter()),
                    cols,
                };
                let (rows_all, cols_all) = (&task.rows_all, &task.cols_all);
                let whole = call(rows_all.clone(), cols_all.clone());
                kernels::pixels_block(blocking, &whole, &task.offsets, sums, true);
                // Then, element by element, the border pixels only it reads.
                let inner_empty = rows_all.is_empty() || cols_all.is_empty();
                for (j, (dy_rows, dy_cols)) in task.windows.iter().enumerate() {
                    let strips = if inner_empty {
                        vec![(dy_rows.clone(), dy_cols.clone())]
                    } else {
                        vec![
                            (dy_rows.start..rows_all.start, dy_cols.clone()),
                            (rows_all.end..dy_rows.end, dy_cols.clone()),
                            (rows_all.clone(), dy_cols.start..cols_all.start),
                            (rows_all.clone(), cols_all.end..dy_cols.end),
                        ]
                    };
                    let sums_j = &mut sums[j * width..][..width];
                    for (strip_rows, strip_cols) in strips {
                        if strip_rows.is_empty() || strip_cols.is_empty() {
                            continue; // most elements read every pixel: no strips
                        }
                        let strip = call(strip_rows, strip_cols);
                        let offset = &task.offsets[j..=j];
                        kernels::pixels_block(blocking, &strip, offset, sums_j, true);
                    }
                }
            });
    }
    let mut dw = vec![0.0f32; elements * g.co];
    for (task, sums) in tasks.iter().zip(&blocks) {
        let channels = (g.co - task.cb * width).min(width);
        for (m, row) in task.elements.clone().zip(sums.chunks_exact(width)) {
            dw[m * g.co + task.cb * width..][..channels].copy_from_slice(&row[..channels]);
        }
    }
    dw
}

/// One dw task: a block of kernel elements (their input offsets and the output pixels each
/// reads the input at) by the channel block `cb`.
struct DwTask {
    /// The kernel elements m of the block (rows of dw).
    elements: Range<usize>,
    cb: usize,
    offsets: Vec<isize>,
    windows: Vec<(Range<usize>, Range<usize>)>,
    rows_all: Range<usize>,
    cols_all: Range<usize>,
}

/// Bytes of x and dy a dw chunk may span: half of a 512 KB L2, leaving room for the rest.
const DW_CHUNK_BYTES: usize = 256 << 10;

/// The chunks dw walks the batch in: (images, output rows) pairs, whole images while they are
/// small, else bands of output rows of one image; at most `DW_CHUNK_BYTES` of x and dy each.
/// Fixed by the shape alone, never by the thread count.
fn dw_chunks(g: &Conv2dGeometry) -> Vec<(Range<usize>, Range<usize>)> {
    let row_bytes = 4 * (g.wo * g.co + g.sh * g.w * g.c);
    let image_bytes = 4 * (g.h * g.w * g.c + g.ho * g.wo * g.co);
    if image_bytes <= DW_CHUNK_BYTES {
        let per_chunk = (DW_CHUNK_BYTES / image_bytes).max(1);
        return (0..g.n)
            .step_by(per_chunk)
            .map(|n| (n..(n + per_chunk).min(g.n), 0..g.ho))
            .collect();
    }
    let band = (DW_CHUNK_BYTES / row_bytes.max(1)).max(1);
    (0..g.n)
        .flat_map(|n| {
            (0..g.ho)
                .step_by(band)
                .map(move |r| (n..n + 1, r..(r + band).min(g.ho)))
        })
        .collect()
}

/// Weights packed as blocks of `width` columns: `packed[cb][tap][r][lane]` =
/// `weight(tap, r, cb * width + lane)`, 0.0 past the last of `cols` columns.
fn pack(
    taps: usize,
    rows: usize,
    cols: usize,
    width: usize,
    weight: impl Fn(usize, usize, usize) -> f32,
) -> Vec<f32> {
    let blocks = cols.div_ceil(width);
    let mut packed = vec![0.0f32; blocks * taps * rows * width];
    let mut chunks = packed.chunks_exact_mut(width);
    for cb in 0..blocks {
        for tap in 0..taps {
            for r in 0..rows {
                let chunk = chunks.next().expect("sized above");
                for (lane, value) in chunk.iter_mut().enumerate().take(cols - cb * width) {
                    *value = weight(tap, r, cb * width + lane);
                }
            }
        }
    }
    packed
}

/// The kernel rows ky whose input row `oy * sh + ky - pad_top` exists, for output row oy.
fn kernel_rows(g: &Conv2dGeometry, oy: usize) -> Range<usize> {
    let start = g.pad_top.saturating_sub(oy * g.sh);
    let end = (g.h + g.pad_top).saturating_sub(oy * g.sh).min(g.kh);
    start..end.max(start)
}

/// The kernel columns kx whose input column `ox * sw + kx - pad_left` exists, for output
/// column ox.
fn kernel_cols(g: &Conv2dGeometry, ox: usize) -> Range<usize> {
    let start = g.pad_left.saturating_sub(ox * g.sw);
    let end = (g.w + g.pad_left).saturating_sub(ox * g.sw).min(g.kw);
    start..end.max(start)
}

/// The kernel taps t (rows or columns) that carry input index i to an output index in 0..out
/// (`o * stride + t - pad = i`), ascending.
fn carrying_taps(i: usize, taps: usize, pad: usize, stride: usize, out: usize) -> Vec<usize> {
    (0..taps)
        .filter(|&t| source(i, t, pad, stride, out).is_some())
        .collect()
}

/// Along one axis of `len` inputs: the distinct `carrying_taps` lists (classes), and each
/// input's class.
fn tap_classes(
    len: usize,
    taps: usize,
    pad: usize,
    stride: usize,
    out: usize,
) -> (Vec<Vec<usize>>, Vec<usize>) {
    let mut classes = Vec::new();
    let class = (0..len)
        .map(|i| class_of(&mut classes, carrying_taps(i, taps, pad, stride, out)))
        .collect();
    (classes, class)
}

/// The output index o that reads input i at tap t (`o * stride + t - pad = i`), if any.
fn source(i: usize, t: usize, pad: usize, stride: usize, out: usize) -> Option<usize> {
    let shifted = (i + pad).checked_sub(t)?;
    (shifted % stride == 0 && shifted / stride < out).then_some(shifted / stride)
}

/// The output indices o along one axis whose tap t reads inside the input
/// (`0 <= o * stride + t - pad < input`).
fn reading_pixels(t: usize, pad: usize, stride: usize, input: usize, out: usize) -> Range<usize> {
    let start = pad.saturating_sub(t).div_ceil(stride);
    let end = (input + pad).saturating_sub(t).div_ceil(stride).min(out);
    start.min(end)..end
}

/// `run` cut into the fewest blocks of at most `rows`, of sizes that differ by at most one
/// (26 pixels in blocks of 6: 6, 5, 5, 5, 5, not 6, 6, 6, 6, 2): a short block has too few
/// accumulators to keep the FMA units busy.
fn balanced(run: Range<usize>, rows: usize) -> impl Iterator<Item = Range<usize>> {
    let count = run.len().div_ceil(rows);
    let at = move |i: usize| run.start + i * run.len() / count;
    (0..count).map(move |i| at(i)..at(i + 1))
}

/// The index of `class` in `classes`, appended if it is new.
fn class_of<T: PartialEq>(classes: &mut Vec<T>, class: T) -> usize {
    match classes.iter().position(|c| *c == class) {
        Some(i) => i,
        None => {
            classes.push(class);
            classes.len() - 1
        }
    }
}

/// The common part of some ranges (empty if they share nothing).
fn intersect(ranges: impl Iterator<Item = Range<usize>>) -> Range<usize> {
    let (start, end) = ranges.fold((0, usize::MAX), |(s, e), r| (s.max(r.start), e.min(r.end)));
    start..end.max(start)
}

#[cfg(test)]
mod tests;
