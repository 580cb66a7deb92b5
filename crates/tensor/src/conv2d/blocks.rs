//! What the blocked algorithms (im2col, Winograd) share in their backward passes: a batch cut
//! into blocks of whole images, each block's slice of dy (masked by a fused ReLU's output), its
//! images of dx, and partial dw/db sums that are added in block order, so the result does not
//! depend on which thread ran which block.

use std::cell::RefCell;

use rayon::prelude::*;

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

/// Frees this thread's kept buffers (`recycle::release_scratch`), so the next call allocates
/// them again, where a memory meter sees them.
pub(crate) fn release_thread_buffers() {
    MASKED.with(|b| drop(std::mem::take(&mut *b.borrow_mut())));
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

/// Values of dw per chunk in `sum_partials`: 4 KB, so a chunk stays in L1 while every block's
/// partial is added into it.
const SUM_CHUNK: usize = 1024;

/// Chunks a thread takes at least, so that a small dw (conv1's 288 values) is summed by the
/// caller without a fork.
const SUM_MIN_CHUNKS: usize = 8;

/// The blocks' partial (weight-gradient, bias-gradient) pairs added in block order.
///
/// Every element is summed over the blocks in block order however dw is cut up, so the result
/// is the same on any number of threads. dw is cut into chunks, each of which takes every
/// block's partial in turn, and a large dw's chunks are shared between threads: Winograd's dU
/// for conv2 (16 blocks of 32,768 values) was summed on one thread while the other waited.
pub(crate) fn sum_partials(
    partials: &[(Vec<f32>, Vec<f32>)],
    w_len: usize,
    co: usize,
) -> (Vec<f32>, Vec<f32>) {
    let (mut dw, mut db) = (vec![0.0f32; w_len], vec![0.0f32; co]);
    dw.par_chunks_mut(SUM_CHUNK)
        .with_min_len(SUM_MIN_CHUNKS)
        .enumerate()
        .for_each(|(i, dw_chunk)| {
            for (dw_part, _) in partials {
                add_into(dw_chunk, &dw_part[i * SUM_CHUNK..]);
            }
        });
    for (_, db_part) in partials {
        add_into(&mut db, db_part);
    }
    (dw, db)
}

fn add_into(acc: &mut [f32], values: &[f32]) {
    for (a, &v) in acc.iter_mut().zip(values) {
        *a += v;
    }
}

#[cfg(test)]
mod tests {
    use super::{sum_partials, SUM_CHUNK, SUM_MIN_CHUNKS};
    use crate::rng::Rng;

    /// The sum as it reads: a running total over the blocks, one after the other.
    fn block_order_sum(partials: &[(Vec<f32>, Vec<f32>)], len: usize) -> Vec<f32> {
        let mut total = vec![0.0f32; len];
        for (part, _) in partials {
            for (t, &v) in total.iter_mut().zip(part) {
                *t += v;
            }
        }
        total
    }

    #[test]
    fn chunked_sums_are_the_block_order_sums_bit_for_bit_on_any_number_of_threads() {
        let mut rng = Rng::new(11);
        // Random values, so that any other order of addition would show in the bits; sizes on
        // both sides of the parallel threshold, with a last chunk that is not full.
        for w_len in [300, SUM_MIN_CHUNKS * SUM_CHUNK * 2 + SUM_CHUNK / 2 + 3] {
            let partials: Vec<(Vec<f32>, Vec<f32>)> = (0..16)
                .map(|_| {
                    let dw = (0..w_len).map(|_| rng.uniform_range(-1.0, 1.0)).collect();
                    let db = (0..5).map(|_| rng.uniform_range(-1.0, 1.0)).collect();
                    (dw, db)
                })
                .collect();
            let db_partials: Vec<(Vec<f32>, Vec<f32>)> = partials
                .iter()
                .map(|(_, db)| (db.clone(), vec![]))
                .collect();
            for threads in [1, 2, 3] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let (dw, db) = pool.install(|| sum_partials(&partials, w_len, 5));
                assert_eq!(
                    dw,
                    block_order_sum(&partials, w_len),
                    "dw, {threads} threads"
                );
                assert_eq!(
                    db,
                    block_order_sum(&db_partials, 5),
                    "db, {threads} threads"
                );
            }
        }
    }
}
