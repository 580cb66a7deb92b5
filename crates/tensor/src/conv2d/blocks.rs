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

/// Values per task when a whole batch's dy is summed into db (`batch_column_sums`): 1 MB, so
/// a dy of that size or less is one chunk and gets `column_sums`' bits.
const BATCH_SUM_CHUNK_VALUES: usize = 1 << 18;

/// Values of a chunk of whole rows of `cols` columns (at least one row).
fn batch_sum_chunk(cols: usize) -> usize {
    (BATCH_SUM_CHUNK_VALUES / cols.max(1)).max(1) * cols.max(1)
}

/// The chunks' column sums added in chunk order (the first chunk's as they are).
fn add_in_order(partials: Vec<Vec<f32>>, cols: usize) -> Vec<f32> {
    let mut parts = partials.into_iter();
    let mut sums = parts.next().unwrap_or_else(|| vec![0.0; cols]);
    for part in parts {
        add_into(&mut sums, &part);
    }
    sums
}

/// db of a whole batch: the column sums of dy (`cols` columns), chunk by chunk in parallel,
/// the chunks' sums added in chunk order. The chunks depend on the sizes only, so the result is
/// the same on any thread count, and a dy of up to 256K values is one chunk: `column_sums`'
/// bits. (The first layer of vgg_cifar10 has a dy of 1M values at batch 32; one serial pass
/// over it took a tenth of the layer's backward.)
pub(super) fn dy_column_sums(dy: &[f32], cols: usize) -> Vec<f32> {
    let partials = dy
        .par_chunks(batch_sum_chunk(cols))
        .map(|chunk| column_sums(chunk, cols))
        .collect();
    add_in_order(partials, cols)
}

/// ReLU's backward into `masked` (`dy` where the ReLU's output `y` is positive, else 0) and
/// its column sums, in one parallel pass over the same chunks as `dy_column_sums`: the bits of
/// `elementwise::relu_backward` followed by `dy_column_sums`, without a pass for each.
pub(super) fn masked_dy_column_sums(
    y: &[f32],
    dy: &[f32],
    masked: &mut [f32],
    cols: usize,
) -> Vec<f32> {
    assert!(
        y.len() == dy.len() && masked.len() == dy.len(),
        "masked_dy_column_sums: y has {} values, dy {}, masked {}",
        y.len(),
        dy.len(),
        masked.len()
    );
    let chunk = batch_sum_chunk(cols);
    let partials = masked
        .par_chunks_mut(chunk)
        .zip(dy.par_chunks(chunk))
        .zip(y.par_chunks(chunk))
        .map(|((out, dy), y)| {
            for ((m, &d), &y) in out.iter_mut().zip(dy).zip(y) {
                *m = relu_grad_value(y, d);
            }
            column_sums(out, cols)
        })
        .collect();
    add_in_order(partials, cols)
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
    use super::{
        column_sums, dy_column_sums, masked_dy_column_sums, sum_partials, BATCH_SUM_CHUNK_VALUES,
        SUM_CHUNK, SUM_MIN_CHUNKS,
    };
    use crate::elementwise::relu_grad_value;
    use crate::rng::Rng;

    fn on_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(f)
    }

    #[test]
    fn a_batchs_db_is_the_chunks_sums_in_order_on_any_number_of_threads() {
        let mut rng = Rng::new(12);
        for (cols, rows) in [
            (32, 100),
            (32, BATCH_SUM_CHUNK_VALUES / 32),
            (3, 200_000),
            (64, 9_000),
        ] {
            let len = cols * rows;
            let dy: Vec<f32> = (0..len).map(|_| rng.uniform_range(-1.0, 1.0)).collect();
            let y: Vec<f32> = (0..len).map(|_| rng.uniform_range(-1.0, 1.0)).collect();
            let chunk = (BATCH_SUM_CHUNK_VALUES / cols) * cols;
            // The sum as it reads: each chunk's column sums, then the chunks one after the other.
            let in_order = |m: &[f32]| {
                let mut chunks = m.chunks(chunk).map(|c| column_sums(c, cols));
                let mut total = chunks.next().unwrap();
                for part in chunks {
                    for (t, v) in total.iter_mut().zip(part) {
                        *t += v;
                    }
                }
                total
            };
            let masked_want: Vec<f32> = y
                .iter()
                .zip(&dy)
                .map(|(&y, &d)| relu_grad_value(y, d))
                .collect();
            if len <= BATCH_SUM_CHUNK_VALUES {
                // One chunk: a plain serial sum, the bits of `column_sums`.
                assert_eq!(dy_column_sums(&dy, cols), column_sums(&dy, cols));
            }
            for threads in [1, 2, 3] {
                let db = on_threads(threads, || dy_column_sums(&dy, cols));
                assert_eq!(db, in_order(&dy), "{cols} x {rows}, {threads} threads");
                let mut masked = vec![f32::NAN; len];
                let db = on_threads(threads, || {
                    masked_dy_column_sums(&y, &dy, &mut masked, cols)
                });
                assert_eq!(
                    masked, masked_want,
                    "masked dy, {cols} x {rows}, {threads} threads"
                );
                assert_eq!(
                    db,
                    in_order(&masked_want),
                    "masked db, {cols} x {rows}, {threads} threads"
                );
            }
        }
    }

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
