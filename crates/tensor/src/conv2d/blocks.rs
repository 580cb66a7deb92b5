//! What the blocked algorithms (im2col, Winograd) share in their backward passes: a batch cut
//! into blocks of whole images, each block's slice of dy (masked by a fused ReLU's output), its
//! images of dx, and partial dw/db sums that are added in block order, so the result does not
//! depend on which thread ran which block.

use std::cell::RefCell;

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

thread_local! {
    /// Each thread's buffer for a block's masked dy, kept between calls.
    static MASKED: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on a block's dy (which starts at element `first` of dy) and its column sums (the
/// block's db). With a fused ReLU's output `relu_y` (all of it), dy is first masked where y is
/// not positive: ReLU's backward, into a buffer this thread reuses, in the same pass as the sums.
pub(super) fn with_masked_dy<R>(
    dy_block: &[f32],
    relu_y: Option<&[f32]>,
    first: usize,
    co: usize,
    f: impl FnOnce(&[f32], Vec<f32>) -> R,
) -> R {
    let Some(y) = relu_y else {
        return f(dy_block, column_sums(dy_block, co));
    };
    let y_block = &y[first..][..dy_block.len()];
    let mask_into = |masked: &mut [f32]| {
        let mut sums = vec![0.0f32; co];
        for ((m_row, dy_row), y_row) in masked
            .chunks_exact_mut(co)
            .zip(dy_block.chunks_exact(co))
            .zip(y_block.chunks_exact(co))
        {
            for (((m, &d), &y), s) in m_row.iter_mut().zip(dy_row).zip(y_row).zip(&mut sums) {
                *m = relu_grad_value(y, d);
                *s += *m;
            }
        }
        sums
    };
    MASKED.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buffer) => {
            if buffer.len() < dy_block.len() {
                buffer.resize(dy_block.len(), 0.0);
            }
            let masked = &mut buffer[..dy_block.len()];
            let sums = mask_into(masked);
            f(masked, sums)
        }
        Err(_) => {
            let mut masked = vec![0.0; dy_block.len()];
            let sums = mask_into(&mut masked);
            f(&masked, sums)
        }
    })
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
pub(crate) fn sum_partials(
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
