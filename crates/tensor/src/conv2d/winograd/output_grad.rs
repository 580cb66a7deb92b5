//! Where the Winograd backward reads the gradient of the convolution's outputs, tile by tile:
//! the convolution's own dy (masked by a fused ReLU), or the dy of a 2x2 max pooling fused into
//! the output tiles (`pooled.rs`), which goes to each window's winner only. Either way a tile
//! gets its 2x2 dY of N channels, and the block's db sums the same values as they are read.

use super::super::Conv2dGeometry;
use super::output_at;
use super::tiles::Grid;
use crate::elementwise::relu_grad_value;

/// Where the gradient of the outputs comes from.
#[derive(Clone, Copy)]
pub(super) enum OutputGrad<'a> {
    /// The convolution's own dy, masked where a fused ReLU's output `relu_y` is not positive.
    Full {
        dy: &'a [f32],
        relu_y: Option<&'a [f32]>,
    },
    /// A fused 2x2 max pooling's dy (`pooled.rs`): each goes to its window's winner (`argmax`,
    /// an index in the image), masked where the pooled value `y` (the winner's ReLU output) is
    /// not positive; the other three outputs of the window get 0.
    Pooled {
        dy: &'a [f32],
        y: &'a [f32],
        argmax: &'a [u32],
    },
}

/// Where tile t's outputs are in its block's gradient, as `OutputGrad::tile_dy` reads them.
pub(super) enum TileAt {
    /// Each output's offset in dy (None past the edge).
    Full([[Option<usize>; 2]; 2]),
    /// The tile's one pooled value's offset in dy, and its outputs' offsets in their image (what
    /// argmax holds).
    Pooled { at: usize, cells: [[usize; 2]; 2] },
}

impl<'a> OutputGrad<'a> {
    /// The part of the gradient for `images` images from image `first`.
    pub(super) fn block(
        self,
        g: &Conv2dGeometry,
        grid: &Grid,
        first: usize,
        images: usize,
    ) -> Self {
        match self {
            OutputGrad::Full { dy, relu_y } => {
                let len = g.ho * g.wo * g.co;
                let part = |v: &'a [f32]| &v[first * len..][..images * len];
                OutputGrad::Full {
                    dy: part(dy),
                    relu_y: relu_y.map(part),
                }
            }
            OutputGrad::Pooled { dy, y, argmax } => {
                // One pooled value per tile and channel.
                let len = grid.tiles_per_image() * g.co;
                OutputGrad::Pooled {
                    dy: &dy[first * len..][..images * len],
                    y: &y[first * len..][..images * len],
                    argmax: &argmax[first * len..][..images * len],
                }
            }
        }
    }

    /// Where tile t of a block finds its outputs' gradient.
    #[inline(always)]
    pub(super) fn tile_at(&self, g: &Conv2dGeometry, grid: &Grid, t: usize) -> TileAt {
        match self {
            OutputGrad::Full { .. } => TileAt::Full(std::array::from_fn(|i| {
                std::array::from_fn(|j| output_at(g, grid, t, i, j))
            })),
            OutputGrad::Pooled { .. } => {
                let pos = t % grid.tiles_per_image();
                let (oy, ox) = (2 * (pos / grid.tiles_across), 2 * (pos % grid.tiles_across));
                let cell = |i: usize, j: usize| ((oy + i) * g.wo + ox + j) * g.co;
                TileAt::Pooled {
                    at: t * g.co,
                    cells: [[cell(0, 0), cell(0, 1)], [cell(1, 0), cell(1, 1)]],
                }
            }
        }
    }

    /// A tile's 2x2 dY of N channels from c0 (zero past the edge, where a fused ReLU's output
    /// is not positive, and, pooled, off the window's winner), added into `db` (the block's db
    /// from channel c0) as it is read.
    #[inline(always)]
    pub(super) fn tile_dy<const N: usize>(
        &self,
        at: &TileAt,
        c0: usize,
        db: &mut [f32],
    ) -> [[[f32; N]; 2]; 2] {
        match (self, at) {
            (OutputGrad::Full { dy, relu_y }, TileAt::Full(at)) => {
                full_tile_dy::<N>(dy, *relu_y, *at, c0, db)
            }
            (OutputGrad::Pooled { dy, y, argmax }, &TileAt::Pooled { at, cells }) => {
                // Plain loops over the channels (each a few vector instructions).
                let (dy, y) = (&dy[at + c0..][..N], &y[at + c0..][..N]);
                let won = &argmax[at + c0..][..N];
                let mut d = [0.0f32; N];
                for k in 0..N {
                    d[k] = relu_grad_value(y[k], dy[k]);
                    // The window's other three outputs add 0 to db: only the winner's counts.
                    db[k] += d[k];
                }
                let mut tile = [[[0.0f32; N]; 2]; 2];
                for (tile_row, cell_row) in tile.iter_mut().zip(cells) {
                    for (out, cell) in tile_row.iter_mut().zip(cell_row) {
                        let first = (cell + c0) as u32;
                        for k in 0..N {
                            out[k] = if won[k] == first + k as u32 {
                                d[k]
                            } else {
                                0.0
                            };
                        }
                    }
                }
                tile
            }
            _ => unreachable!("winograd: a tile's place does not match its gradient"),
        }
    }
}

/// A tile's 2x2 dY of N channels from c0 (zero past the edge, and where a fused ReLU's output
/// is not positive), added into the block's db as it is read.
#[inline(always)]
fn full_tile_dy<const N: usize>(
    dy: &[f32],
    relu_y: Option<&[f32]>,
    at: [[Option<usize>; 2]; 2],
    c0: usize,
    db: &mut [f32],
) -> [[[f32; N]; 2]; 2] {
    let db: &mut [f32; N] = (&mut db[..N]).try_into().expect("winograd: db");
    at.map(|row| {
        row.map(|at| {
            let Some(at) = at else { return [0.0; N] };
            let d: [f32; N] = dy[at + c0..][..N].try_into().expect("winograd: dy");
            let d = match relu_y {
                Some(y) => std::array::from_fn(|k| relu_grad_value(y[at + c0 + k], d[k])),
                None => d,
            };
            for (s, &v) in db.iter_mut().zip(&d) {
                *s += v;
            }
            d
        })
    })
}
