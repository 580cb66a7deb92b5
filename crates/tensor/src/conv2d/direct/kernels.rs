//! The direct convolution's two micro-kernels, and the checks that make calling them sound.
//!
//! Both hold an `R x CV` block of sums in vector registers (R rows, CV vectors of `Lanes::L`
//! channels each: 6 x 2 ymm on AVX2, 6 x 4 zmm on AVX-512, 12 or 24 accumulators) and stream
//! the reduction through it, one broadcast and CV fused multiply-adds per row and step:
//!
//! - `sum_taps` (forward, and dx as a transposed convolution): row j is output pixel j of a
//!   group of pixels that read the same taps; a step is one (tap, input channel): CV vectors of packed weights are loaded
//!   once, and each pixel's input value is broadcast against them.
//!   `acc[j][v] += input[inputs[j] + tap.input + k] * weights[tap.weights + k * width + v * L ..]`
//! - `sum_pixels` (dw): row j is one kernel element m = (ky, kx, ci); a step is one output pixel:
//!   CV vectors of dy are loaded once, and for each m the input value that pixel read at m is
//!   broadcast against them.
//!   `acc[j][v] += x[origin(pixel) + offsets[j]] * dy[pixel * CO + co0 + v * L ..]`
//!
//! Each sum runs in one accumulator in a fixed order, so the bits do not depend on threads.
//! The safe wrappers check every index the kernel will form before the `unsafe` call (a few
//! comparisons per block of hundreds of multiply-adds), and that the CPU has the ISA.

use std::ops::Range;

use super::lanes::Lanes;
#[cfg(target_arch = "x86_64")]
use super::lanes::{Avx2, Avx512};
use crate::conv2d::Conv2dGeometry;

/// Calls `$f::<CV, R>(args)` for the run-time pair (cv, rows), from the pairs listed.
macro_rules! dispatch {
    ($f:ident, $cv:expr, $rows:expr, $args:tt, $($c:literal => [$($r:literal),*]),*) => {
        match ($cv, $rows) {
            $($(($c, $r) => $f::<$c, $r> $args,)*)*
            (cv, rows) => unreachable!("conv2d direct: no kernel for {cv} vectors x {rows} rows"),
        }
    };
}

/// Calls the AVX-512 or AVX2 entry point for a block of `rows` rows with `blocking`'s CV: the
/// one list of the (CV, rows) pairs compiled, which `Blocking::for_channels` can ask for.
macro_rules! for_blocking {
    ($blocking:expr, $rows:expr, $avx512:ident, $avx2:ident, $args:tt) => {
        match $blocking.isa {
            crate::isa::Isa::Avx512 => dispatch!($avx512, $blocking.cv, $rows, $args,
                1 => [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
                2 => [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
                3 => [1, 2, 3, 4, 5, 6, 7, 8],
                4 => [1, 2, 3, 4, 5, 6]),
            _ => dispatch!($avx2, $blocking.cv, $rows, $args,
                1 => [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
                2 => [1, 2, 3, 4, 5, 6]),
        }
    };
}

/// Which vector kernels run, and how wide a block is: CV vectors of channels and at most
/// `rows` rows (pixels or kernel elements).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Blocking {
    pub isa: crate::isa::Isa,
    pub cv: usize,
    pub rows: usize,
}

impl Blocking {
    /// The blocking for a vectorised dimension of `channels`, or None where convlab has no
    /// vector kernel (the portable loops run). CV is the one of the ISA's widths that pads
    /// `channels` least (ties to the wider); rows fill the registers: R x CV accumulators, CV
    /// weight or dy vectors and a broadcast within 16 ymm (AVX2) or 32 zmm (AVX-512).
    pub fn for_channels(isa: crate::isa::Isa, channels: usize) -> Option<Blocking> {
        use crate::isa::Isa;
        let (lanes, choices): (usize, &[(usize, usize)]) = match isa {
            Isa::Avx512 => (16, &[(4, 6), (3, 8), (2, 12), (1, 12)]),
            Isa::Avx2 => (8, &[(2, 6), (1, 12)]),
            Isa::Baseline => return None,
        };
        if !cfg!(target_arch = "x86_64") {
            return None;
        }
        let vectors = channels.div_ceil(lanes);
        let padded = |cv: usize| vectors.div_ceil(cv) * cv;
        let &(cv, rows) = choices
            .iter()
            .min_by_key(|&&(cv, _)| (padded(cv), usize::MAX - cv))
            .expect("choices are not empty");
        Some(Blocking { isa, cv, rows })
    }

    /// f32 lanes of one register.
    pub fn lanes(self) -> usize {
        match self.isa {
            crate::isa::Isa::Avx512 => 16,
            _ => 8,
        }
    }

    /// Channels in one block: CV vectors.
    pub fn width(self) -> usize {
        self.cv * self.lanes()
    }
}

/// One run of the reduction in `sum_taps`: `len` consecutive steps, reading `input` from
/// `input` and packed weights from `weights` (both offsets; step k adds k and k * width).
#[derive(Clone, Copy, Debug)]
pub(super) struct Tap {
    pub input: usize,
    pub weights: usize,
    pub len: usize,
}

/// Everything `sum_taps` reads, for one run of pixels that share their taps.
pub(super) struct TapsCall<'a> {
    /// Input values (x forward, dy for dx).
    pub input: &'a [f32],
    pub taps: &'a [Tap],
    /// Packed weights, `width` channels per step.
    pub weights: &'a [f32],
    /// `width` values added after the sum (padded with zeros), if any.
    pub bias: Option<&'a [f32]>,
    pub relu: bool,
    /// Channels of the block that exist (the rest of `width` is padding, never stored).
    pub channels: usize,
}

/// Sums of `inputs.len()` pixels (pixel j's taps read `call.input` from `inputs[j]`), stored
/// at `out[outputs[j]..][..channels]`. Panics if an index would leave a slice.
pub(super) fn taps_block(
    blocking: Blocking,
    call: &TapsCall,
    inputs: &[usize],
    outputs: &[usize],
    out: &mut [f32],
) {
    let (width, rows) = (blocking.width(), inputs.len());
    assert!(rows >= 1 && rows <= blocking.rows && outputs.len() == rows && call.channels <= width);
    let reach = |tap: &Tap| tap.input + tap.len;
    let input_end =
        inputs.iter().max().unwrap_or(&0) + call.taps.iter().map(reach).max().unwrap_or(0);
    let weights_end = call
        .taps
        .iter()
        .map(|t| t.weights + t.len * width)
        .max()
        .unwrap_or(0);
    assert!(
        input_end <= call.input.len()
            && weights_end <= call.weights.len()
            && call.bias.is_none_or(|b| b.len() == width)
            && outputs.iter().max().unwrap_or(&0) + call.channels <= out.len(),
        "conv2d direct: block bounds"
    );
    assert!(
        crate::isa::detected() >= blocking.isa,
        "conv2d direct: ISA not on this CPU"
    );
    #[cfg(target_arch = "x86_64")]
    {
        let out = out.as_mut_ptr();
        // SAFETY: the CPU has the ISA (asserted), and the asserts above bound every index the
        // kernel forms: inputs below input_end, weights below weights_end, outputs as stated.
        unsafe {
            for_blocking!(
                blocking,
                rows,
                taps_avx512,
                taps_avx2,
                (call, inputs, outputs, out)
            )
        }
    }
}

/// Pixels whose dx `dots_block` sums: dx for few input channels (a first layer's 1 or 3).
///
/// `sum_taps` would vectorise dx over input channels, leaving most lanes empty; this kernel
/// vectorises over output channels instead. Pixel j has one accumulator vector; a step loads
/// `w[tap, ci, co..]` (one vector) and `dy[pixel j's source at the tap, co..]` and multiply-
/// adds; at the end each vector's lanes are added (in a fixed order) into `dx[pixel j, ci]`.
/// Taps come as in `TapsCall` (input: dy, weights: the unpacked w at (tap, ci, 0), len: CO).
pub(super) struct DotsCall<'a> {
    pub dy: &'a [f32],
    pub w: &'a [f32],
    pub taps: &'a [Tap],
}

/// `out[outputs[j]]` = Σ over taps of dot(dy[inputs[j] + tap.input..][..len], w[tap.weights..][..len]).
pub(super) fn dots_block(
    isa: crate::isa::Isa,
    call: &DotsCall,
    inputs: &[usize],
    outputs: &[usize],
    out: &mut [f32],
) {
    let rows = inputs.len();
    assert!((1..=DOT_ROWS).contains(&rows) && outputs.len() == rows);
    let input_end = inputs.iter().max().unwrap_or(&0)
        + call.taps.iter().map(|t| t.input + t.len).max().unwrap_or(0);
    let weights_end = call
        .taps
        .iter()
        .map(|t| t.weights + t.len)
        .max()
        .unwrap_or(0);
    assert!(
        input_end <= call.dy.len()
            && weights_end <= call.w.len()
            && outputs.iter().all(|&o| o < out.len()),
        "conv2d direct: dx dot block bounds"
    );
    assert!(
        crate::isa::detected() >= isa,
        "conv2d direct: ISA not on this CPU"
    );
    #[cfg(target_arch = "x86_64")]
    {
        let out = out.as_mut_ptr();
        // SAFETY: the CPU has the ISA (asserted); every dy index is below input_end, every w
        // index below weights_end and every output inside `out` (asserted).
        unsafe {
            match isa {
                crate::isa::Isa::Avx512 => {
                    dispatch!(dots_avx512, 1, rows, (call, inputs, outputs, out),
                    1 => [1, 2, 3, 4, 5, 6, 7, 8])
                }
                _ => dispatch!(dots_avx2, 1, rows, (call, inputs, outputs, out),
                    1 => [1, 2, 3, 4, 5, 6, 7, 8]),
            }
        }
    }
}

/// Pixels in one `dots_block` at most: 8 accumulators, a weight vector and a dy vector.
pub(super) const DOT_ROWS: usize = 8;

#[inline(always)]
unsafe fn sum_dots<S: Lanes, const R: usize>(
    call: &DotsCall,
    inputs: &[usize],
    outputs: &[usize],
    out: *mut f32,
) {
    let (dy, w) = (call.dy.as_ptr(), call.w.as_ptr());
    let mut acc = [S::zero(); R];
    for tap in call.taps {
        let w_tap = w.add(tap.weights);
        let dy_j: [*const f32; R] = std::array::from_fn(|j| dy.add(inputs[j] + tap.input));
        let mut k = 0;
        while k < tap.len {
            let lanes = (tap.len - k).min(S::L);
            let (w_v, full) = if lanes == S::L {
                (S::load(w_tap.add(k)), true)
            } else {
                (S::load_part(w_tap.add(k), lanes), false)
            };
            for (a, d) in acc.iter_mut().zip(&dy_j) {
                let dy_v = if full {
                    S::load(d.add(k))
                } else {
                    S::load_part(d.add(k), lanes)
                };
                *a = S::fma(dy_v, w_v, *a);
            }
            k += S::L;
        }
    }
    for (a, &o) in acc.iter().zip(outputs) {
        *out.add(o) = S::sum(*a);
    }
}

/// Everything `sum_pixels` reads: dw over a rectangle of output pixels of some images.
pub(super) struct PixelsCall<'a> {
    pub g: &'a Conv2dGeometry,
    pub x: &'a [f32],
    pub dy: &'a [f32],
    /// The block's first output channel, and how many of its `width` exist.
    pub co0: usize,
    pub channels: usize,
    pub images: Range<usize>,
    pub rows: Range<usize>,
    pub cols: Range<usize>,
}

impl PixelsCall<'_> {
    /// Where output pixel (n, oy, ox)'s window starts in x, before padding: the input index of
    /// tap (ky, kx, ci) is this plus `((ky - pad_top) * W + kx - pad_left) * C + ci`.
    fn origin(&self, n: usize, oy: usize, ox: usize) -> isize {
        let g = self.g;
        (((n * g.h + oy * g.sh) * g.w + ox * g.sw) * g.c) as isize
    }
}

/// `out[j * width + ..]` = (if `accumulate`, itself +) the sums of row j over the call's pixels,
/// row j reading x at `origin + offsets[j]`. Panics if an index would leave a slice.
pub(super) fn pixels_block(
    blocking: Blocking,
    call: &PixelsCall,
    offsets: &[isize],
    out: &mut [f32],
    accumulate: bool,
) {
    let (width, rows) = (blocking.width(), offsets.len());
    assert!(
        rows >= 1 && rows <= blocking.rows && call.channels <= width && out.len() >= rows * width
    );
    let empty = call.images.is_empty() || call.rows.is_empty() || call.cols.is_empty();
    if empty {
        if !accumulate {
            out[..rows * width].fill(0.0);
        }
        return;
    }
    let g = call.g;
    let (lo, hi) = (
        offsets.iter().min().copied().unwrap_or(0),
        offsets.iter().max().copied().unwrap_or(0),
    );
    let first = call.origin(call.images.start, call.rows.start, call.cols.start) + lo;
    let last = call.origin(call.images.end - 1, call.rows.end - 1, call.cols.end - 1) + hi;
    let last_pixel = ((call.images.end - 1) * g.ho + call.rows.end - 1) * g.wo + call.cols.end - 1;
    assert!(
        first >= 0
            && (last as usize) < call.x.len()
            && call.rows.end <= g.ho
            && call.cols.end <= g.wo
            && call.co0 + call.channels <= g.co
            && last_pixel * g.co + g.co <= call.dy.len(),
        "conv2d direct: dw block bounds"
    );
    assert!(
        crate::isa::detected() >= blocking.isa,
        "conv2d direct: ISA not on this CPU"
    );
    #[cfg(target_arch = "x86_64")]
    {
        let out = out.as_mut_ptr();
        // SAFETY: the CPU has the ISA (asserted); origins grow with n, oy and ox, so every x
        // index lies in first..=last, every dy index below the last pixel's end (asserted).
        unsafe {
            for_blocking!(
                blocking,
                rows,
                pixels_avx512,
                pixels_avx2,
                (call, offsets, out, accumulate)
            )
        }
    }
}

/// Lanes stored or loaded of vector v when `channels` of the block exist.
#[inline(always)]
fn lanes_of<S: Lanes>(channels: usize, v: usize) -> usize {
    channels.saturating_sub(v * S::L).min(S::L)
}

#[inline(always)]
unsafe fn sum_taps<S: Lanes, const CV: usize, const R: usize>(
    call: &TapsCall,
    inputs: &[usize],
    outputs: &[usize],
    out: *mut f32,
) {
    let width = CV * S::L;
    let input = call.input.as_ptr();
    let weights = call.weights.as_ptr();
    let mut pixel = [0usize; R];
    pixel.copy_from_slice(inputs);
    // No other order: every sum is taps, then steps, whatever the block's size, so the bits
    // do not depend on how pixels were grouped into blocks (threads, chunks of a batch).
    let mut acc = [[S::zero(); CV]; R];
    for tap in call.taps {
        let x = input.add(tap.input);
        let w = weights.add(tap.weights);
        let x_j: [*const f32; R] = std::array::from_fn(|j| x.add(pixel[j]));
        for k in 0..tap.len {
            let w_k = w.add(k * width);
            let mut w_v = [S::zero(); CV];
            for (v, w_v) in w_v.iter_mut().enumerate() {
                *w_v = S::load(w_k.add(v * S::L));
            }
            for (acc_j, x_j) in acc.iter_mut().zip(&x_j) {
                let x_jk = S::splat(x_j.add(k));
                for v in 0..CV {
                    acc_j[v] = S::fma(x_jk, w_v[v], acc_j[v]);
                }
            }
        }
    }
    for (j, acc_j) in acc.iter().enumerate() {
        let out_j = out.add(outputs[j]);
        for (v, &sum) in acc_j.iter().enumerate() {
            let mut value = sum;
            if let Some(bias) = call.bias {
                value = S::add(value, S::load(bias.as_ptr().add(v * S::L)));
            }
            if call.relu {
                value = S::relu(value);
            }
            match lanes_of::<S>(call.channels, v) {
                0 => {}
                n if n == S::L => S::store(out_j.add(v * S::L), value),
                n => S::store_part(out_j.add(v * S::L), value, n),
            }
        }
    }
}

#[inline(always)]
unsafe fn sum_pixels<S: Lanes, const CV: usize, const R: usize>(
    call: &PixelsCall,
    offsets: &[isize],
    out: *mut f32,
    accumulate: bool,
) {
    let width = CV * S::L;
    let mut acc = [[S::zero(); CV]; R];
    if accumulate {
        for (j, acc_j) in acc.iter_mut().enumerate() {
            for (v, a) in acc_j.iter_mut().enumerate() {
                *a = S::load(out.add(j * width + v * S::L));
            }
        }
    }
    let mut offset = [0isize; R];
    offset.copy_from_slice(offsets);
    // Usually the block's elements are neighbouring channels of one tap: then one pointer
    // and constant displacements address every broadcast.
    let adjacent = offset
        .iter()
        .enumerate()
        .all(|(j, &o)| o == offset[0] + j as isize);
    match (call.channels == width, adjacent) {
        (true, true) => pixel_loop::<S, CV, R, true, true>(call, &offset, &mut acc),
        (true, false) => pixel_loop::<S, CV, R, true, false>(call, &offset, &mut acc),
        (false, true) => pixel_loop::<S, CV, R, false, true>(call, &offset, &mut acc),
        (false, false) => pixel_loop::<S, CV, R, false, false>(call, &offset, &mut acc),
    }
    for (j, acc_j) in acc.iter().enumerate() {
        for (v, &sum) in acc_j.iter().enumerate() {
            S::store(out.add(j * width + v * S::L), sum);
        }
    }
}

/// The loop over pixels of `sum_pixels`; FULL: every channel of the block exists (plain loads);
/// ADJACENT: `offset[j] = offset[0] + j`.
#[inline(always)]
unsafe fn pixel_loop<
    S: Lanes,
    const CV: usize,
    const R: usize,
    const FULL: bool,
    const ADJACENT: bool,
>(
    call: &PixelsCall,
    offset: &[isize; R],
    acc: &mut [[S::V; CV]; R],
) {
    let g = call.g;
    let (x, dy) = (call.x.as_ptr(), call.dy.as_ptr());
    for n in call.images.clone() {
        for oy in call.rows.clone() {
            let row_origin = call.origin(n, oy, call.cols.start);
            let dy_row = dy.add(((n * g.ho + oy) * g.wo + call.cols.start) * g.co + call.co0);
            for i in 0..call.cols.len() {
                let x_px = row_origin + (i * g.sw * g.c) as isize;
                let dy_px = dy_row.add(i * g.co);
                let mut dy_v = [S::zero(); CV];
                for (v, d) in dy_v.iter_mut().enumerate() {
                    *d = if FULL {
                        S::load(dy_px.add(v * S::L))
                    } else {
                        match lanes_of::<S>(call.channels, v) {
                            0 => S::zero(),
                            n => S::load_part(dy_px.add(v * S::L), n),
                        }
                    };
                }
                let x_0 = x.offset(x_px + offset[0]);
                for (j, acc_j) in acc.iter_mut().enumerate() {
                    let x_j = if ADJACENT {
                        S::splat(x_0.add(j))
                    } else {
                        S::splat(x.offset(x_px + offset[j]))
                    };
                    for v in 0..CV {
                        acc_j[v] = S::fma(x_j, dy_v[v], acc_j[v]);
                    }
                }
            }
        }
    }
}

// The entry points, one per ISA: the generic kernels inlined into a function compiled for it.

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn taps_avx2<const CV: usize, const R: usize>(
    c: &TapsCall,
    inputs: &[usize],
    outputs: &[usize],
    out: *mut f32,
) {
    sum_taps::<Avx2, CV, R>(c, inputs, outputs, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn taps_avx512<const CV: usize, const R: usize>(
    c: &TapsCall,
    inputs: &[usize],
    outputs: &[usize],
    out: *mut f32,
) {
    sum_taps::<Avx512, CV, R>(c, inputs, outputs, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dots_avx2<const CV: usize, const R: usize>(
    c: &DotsCall,
    inputs: &[usize],
    outputs: &[usize],
    out: *mut f32,
) {
    sum_dots::<Avx2, R>(c, inputs, outputs, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn dots_avx512<const CV: usize, const R: usize>(
    c: &DotsCall,
    inputs: &[usize],
    outputs: &[usize],
    out: *mut f32,
) {
    sum_dots::<Avx512, R>(c, inputs, outputs, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn pixels_avx2<const CV: usize, const R: usize>(
    c: &PixelsCall,
    offsets: &[isize],
    out: *mut f32,
    accumulate: bool,
) {
    sum_pixels::<Avx2, CV, R>(c, offsets, out, accumulate)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn pixels_avx512<const CV: usize, const R: usize>(
    c: &PixelsCall,
    offsets: &[isize],
    out: *mut f32,
    accumulate: bool,
) {
    sum_pixels::<Avx512, CV, R>(c, offsets, out, accumulate)
}
