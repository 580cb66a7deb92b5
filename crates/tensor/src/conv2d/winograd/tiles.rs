//! The tile transforms of Winograd F(2x2, 3x3), one tile and one group of channels at a time.
//!
//! Each 2-D transform `X -> L X Rᵀ` applies a 1-D transform to the columns of X, then the same
//! (or another) to the rows. The four 1-D transforms are the additions their matrices amount to:
//! ```text
//! Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]   input tile d      4 -> 4   V  = Bᵀ d B
//! Aᵀ = [1 1 1 0; 0 1 -1 -1]                       product M         4 -> 2   Y  = Aᵀ M A
//! A  = (Aᵀ)ᵀ                                      output grad dY    2 -> 4   dM = A dY Aᵀ
//! B  = (Bᵀ)ᵀ                                      grad dV           4 -> 4   dd = B dV Bᵀ
//! ```
//! Every entry of a tile is a vector of N channels (`[f32; N]`) and every addition works on the
//! whole vector, which the compiler turns into SIMD instructions over the channels (N = LANES,
//! with single channels for a remainder).
//!
//! Tiles read the input from, and add input gradients into, a zero-padded copy of the block's
//! images (`Grid`), so no tile checks an edge: the padding is the `same` padding, plus the row
//! and column a tile reaches past an odd-sized output.

use super::super::Conv2dGeometry;

/// Channels per vector: one AVX-512 register of f32, two AVX2 registers.
pub(super) const LANES: usize = 16;
/// Channels per vector in the backward transforms, which hold more vectors at once (dy, its
/// mask, the tile's columns): with 16 the compiler spilled them to the stack, and the backward
/// ran faster at 8 while the forward stayed faster at 16 (docs/PERFORMANCE.md).
pub(super) const LANES_BACKWARD: usize = 8;

type Lanes<const N: usize> = [f32; N];

#[inline(always)]
fn add<const N: usize>(a: Lanes<N>, b: Lanes<N>) -> Lanes<N> {
    std::array::from_fn(|k| a[k] + b[k])
}

#[inline(always)]
fn sub<const N: usize>(a: Lanes<N>, b: Lanes<N>) -> Lanes<N> {
    std::array::from_fn(|k| a[k] - b[k])
}

#[inline(always)]
fn neg<const N: usize>(a: Lanes<N>) -> Lanes<N> {
    std::array::from_fn(|k| -a[k])
}

#[inline(always)]
fn load<const N: usize>(s: &[f32]) -> Lanes<N> {
    s[..N].try_into().expect("winograd: load")
}

#[inline(always)]
fn store<const N: usize>(s: &mut [f32], lane: Lanes<N>) {
    s[..N].copy_from_slice(&lane);
}

/// Bᵀ d: [d0 - d2, d1 + d2, d2 - d1, d1 - d3].
#[inline(always)]
fn bt<const N: usize>([d0, d1, d2, d3]: [Lanes<N>; 4]) -> [Lanes<N>; 4] {
    [sub(d0, d2), add(d1, d2), sub(d2, d1), sub(d1, d3)]
}

/// Aᵀ m: [m0 + m1 + m2, m1 - m2 - m3].
#[inline(always)]
fn at<const N: usize>([m0, m1, m2, m3]: [Lanes<N>; 4]) -> [Lanes<N>; 2] {
    [add(add(m0, m1), m2), sub(sub(m1, m2), m3)]
}

/// A g: [g0, g0 + g1, g0 - g1, -g1].
#[inline(always)]
fn a<const N: usize>([g0, g1]: [Lanes<N>; 2]) -> [Lanes<N>; 4] {
    [g0, add(g0, g1), sub(g0, g1), neg(g1)]
}

/// B e: [e0, e1 - e2 + e3, e1 + e2 - e0, -e3].
#[inline(always)]
fn b<const N: usize>([e0, e1, e2, e3]: [Lanes<N>; 4]) -> [Lanes<N>; 4] {
    [e0, add(sub(e1, e2), e3), sub(add(e1, e2), e0), neg(e3)]
}

/// Where the tiles of a block live: the block's images, zero-padded to `rows x cols` pixels of
/// C channels, with image pixel (iy, ix) at padded (iy + pad_top, ix + pad_left). Tile (ty, tx)
/// of an image reads the 4x4 window whose corner is padded pixel (2 ty, 2 tx).
#[derive(Clone, Copy, Debug)]
pub(super) struct Grid {
    /// Output tiles down and across an image (2x2 outputs each).
    pub tiles_down: usize,
    pub tiles_across: usize,
    /// Padded pixels down and across.
    pub rows: usize,
    pub cols: usize,
    /// Channels per pixel.
    pub c: usize,
}

impl Grid {
    /// The grid of an input with `c` channels under geometry g (C for x, and dx).
    pub fn new(g: &Conv2dGeometry) -> Grid {
        let (tiles_down, tiles_across) = (g.ho.div_ceil(2), g.wo.div_ceil(2));
        Grid {
            tiles_down,
            tiles_across,
            rows: 2 * tiles_down + 2,
            cols: 2 * tiles_across + 2,
            c: g.c,
        }
    }

    pub fn tiles_per_image(&self) -> usize {
        self.tiles_down * self.tiles_across
    }

    pub fn image_len(&self) -> usize {
        self.rows * self.cols * self.c
    }

    /// The offset of tile t's window (t counts tiles of the block's images in order).
    #[inline(always)]
    pub fn window(&self, t: usize) -> usize {
        let (img, pos) = (t / self.tiles_per_image(), t % self.tiles_per_image());
        let (ty, tx) = (pos / self.tiles_across, pos % self.tiles_across);
        ((img * self.rows + 2 * ty) * self.cols + 2 * tx) * self.c
    }

    /// Copies images (NHWC, as many as `padded` has room for) into the padded grid, zeroing the
    /// border.
    pub fn pad(&self, g: &Conv2dGeometry, images: &[f32], padded: &mut [f32]) {
        let image_len = g.h * g.w * g.c;
        for (img, p_img) in images
            .chunks_exact(image_len)
            .zip(padded.chunks_exact_mut(self.image_len()))
        {
            p_img.fill(0.0);
            for (iy, row) in img.chunks_exact(g.w * g.c).enumerate() {
                let at = ((iy + g.pad_top) * self.cols + g.pad_left) * g.c;
                p_img[at..][..row.len()].copy_from_slice(row);
            }
        }
    }

    /// The adjoint of `pad`: writes the image part of every padded image into `images`
    /// (gradients that fell on the padding belong to no input and are dropped).
    pub fn unpad(&self, g: &Conv2dGeometry, padded: &[f32], images: &mut [f32]) {
        let image_len = g.h * g.w * g.c;
        for (img, p_img) in images
            .chunks_exact_mut(image_len)
            .zip(padded.chunks_exact(self.image_len()))
        {
            for (iy, row) in img.chunks_exact_mut(g.w * g.c).enumerate() {
                let at = ((iy + g.pad_top) * self.cols + g.pad_left) * g.c;
                row.copy_from_slice(&p_img[at..][..row.len()]);
            }
        }
    }
}

/// The channel groups `(first channel, full)` of c channels: groups of `lanes`, then single
/// channels for the rest.
pub(super) fn lane_groups(c: usize, lanes: usize) -> impl Iterator<Item = (usize, bool)> {
    let full = c / lanes * lanes;
    (0..full)
        .step_by(lanes)
        .map(|c0| (c0, true))
        .chain((full..c).map(|c0| (c0, false)))
}

/// V = Bᵀ d B of N channels of one tile: d[i][j] at `padded[window + (i * grid.cols + j) * C]`,
/// entry (ξ, ν) of V written at `v[(4ξ + ν) * v_stride]`.
#[inline(always)]
pub(super) fn input_tile<const N: usize>(
    grid: &Grid,
    padded: &[f32],
    window: usize,
    v: &mut [f32],
    v_stride: usize,
) {
    let (row, px) = (grid.cols * grid.c, grid.c);
    // cols[j] = column j of Bᵀ d.
    let cols: [[Lanes<N>; 4]; 4] = std::array::from_fn(|j| {
        bt(std::array::from_fn(|i| {
            load(&padded[window + i * row + j * px..])
        }))
    });
    for xi in 0..4 {
        let v_row = bt(std::array::from_fn(|j| cols[j][xi]));
        for (nu, lane) in v_row.into_iter().enumerate() {
            store(&mut v[(4 * xi + nu) * v_stride..], lane);
        }
    }
}

/// The 2x2 outputs Aᵀ M A of N channels of one tile, entry (ξ, ν) of M at `m[(4ξ + ν) * stride]`.
#[inline(always)]
pub(super) fn output_tile<const N: usize>(m: &[f32], stride: usize) -> [[Lanes<N>; 2]; 2] {
    // col(j) = column j of Aᵀ M. Spelled out rather than with `array::from_fn`, which the
    // compiler left as a call inside the pooled forward (2% of an epoch's samples, with the
    // vectors passed through memory).
    let entry = |i: usize, j: usize| load::<N>(&m[(4 * i + j) * stride..]);
    let col = |j: usize| at([entry(0, j), entry(1, j), entry(2, j), entry(3, j)]);
    let [c0, c1, c2, c3] = [col(0), col(1), col(2), col(3)];
    [
        at([c0[0], c1[0], c2[0], c3[0]]),
        at([c0[1], c1[1], c2[1], c3[1]]),
    ]
}

/// dM = A dY Aᵀ of N channels of one tile from its 2x2 dY, entry (ξ, ν) written at
/// `dm[(4ξ + ν) * stride]`.
#[inline(always)]
pub(super) fn output_grad_tile<const N: usize>(
    dy: [[Lanes<N>; 2]; 2],
    dm: &mut [f32],
    stride: usize,
) {
    // cols[j] = column j of A dY.
    let cols: [[Lanes<N>; 4]; 2] = std::array::from_fn(|j| a([dy[0][j], dy[1][j]]));
    for xi in 0..4 {
        let dm_row = a([cols[0][xi], cols[1][xi]]);
        for (nu, lane) in dm_row.into_iter().enumerate() {
            store(&mut dm[(4 * xi + nu) * stride..], lane);
        }
    }
}

/// B dV Bᵀ of N channels of one tile (entry (ξ, ν) of dV at `dv[(4ξ + ν) * stride]`), added
/// onto its 4x4 window of the padded input gradient (windows overlap, hence the adding).
#[inline(always)]
pub(super) fn input_grad_tile<const N: usize>(
    grid: &Grid,
    dv: &[f32],
    stride: usize,
    padded: &mut [f32],
    window: usize,
) {
    let (row, px) = (grid.cols * grid.c, grid.c);
    // cols[j] = column j of B dV.
    let cols: [[Lanes<N>; 4]; 4] =
        std::array::from_fn(|j| b(std::array::from_fn(|i| load(&dv[(4 * i + j) * stride..]))));
    for i in 0..4 {
        let dd_row = b(std::array::from_fn(|j| cols[j][i]));
        for (j, lane) in dd_row.into_iter().enumerate() {
            let at = &mut padded[window + i * row + j * px..][..N];
            store(at, add(load(at), lane));
        }
    }
}
