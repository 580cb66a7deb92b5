//! What the blocked algorithms (im2col, Winograd) share in their backward passes: a batch cut
//! into blocks of whole images, each block's slice of dy (masked by a fused ReLU's output), its
//! images of dx, and partial dw/db sums that are added in block order, so the result does not
//! depend on which thread ran which block.

use std::borrow::Cow;

use super::Conv2dGeometry;
use crate::elementwise::relu_grad_value;

/// dx cut into blocks of `images` images (None for every block when dx is not wanted).
pub(super) fn dx_blocks<'a>(
    g: &Conv2dGeometry,
    dx: &'a mut [f32],
    images: usize,
    need_dx: bool,
) -> Vec<Option<&'a mut [f32]>> {
    if need_dx {
        dx.chunks_mut(images * g.h * g.w * g.c).map(Some).collect()
    } else {
        (0..g.n.div_ceil(images)).map(|_| None).collect()
    }
}

/// A block's dy, which starts at element `first` of dy, masked where a fused ReLU's output
/// `relu_y` (all of it) is not positive: ReLU's backward, without a tensor of its own.
pub(super) fn masked_dy<'a>(
    dy_block: &'a [f32],
    relu_y: Option<&[f32]>,
    first: usize,
) -> Cow<'a, [f32]> {
    match relu_y {
        Some(y) => {
            let y_block = &y[first..][..dy_block.len()];
            y_block
                .iter()
                .zip(dy_block)
                .map(|(&y, &d)| relu_grad_value(y, d))
                .collect()
        }
        None => Cow::Borrowed(dy_block),
    }
}

/// The sums of the columns of a row-major matrix with `cols` columns (a block's db).
pub(super) fn column_sums(m: &[f32], cols: usize) -> Vec<f32> {
    let mut sums = vec![0.0f32; cols];
    for row in m.chunks_exact(cols) {
        add_into(&mut sums, row);
    }
    sums
}

/// The blocks' partial (weight-gradient, bias-gradient) pairs added in block order.
pub(super) fn sum_partials(
    partials: &[(Vec<f32>, Vec<f32>)],
    w_len: usize,
    co: usize,
) -> (Vec<f32>, Vec<f32>) {
    let (mut dw, mut db) = (vec![0.0f32; w_len], vec![0.0f32; co]);
    for (dw_part, db_part) in partials {
        add_into(&mut dw, dw_part);
        add_into(&mut db, db_part);
    }
    (dw, db)
}

fn add_into(acc: &mut [f32], values: &[f32]) {
    for (a, &v) in acc.iter_mut().zip(values) {
        *a += v;
    }
}
