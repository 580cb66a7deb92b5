//! GEMM: `C = alpha * A·B + beta * C`, the one place convlab calls `unsafe` code: the call into
//! matrixmultiply here, the AVX-512 micro-kernel of `small_gemm` (`small.rs`) and the FMA copy of
//! `axpy` (`axpy.rs`), each with its contract checked before the `unsafe` block.
//!
//! A and B are read through strides, so A·B, A·Bᵀ and Aᵀ·B are the same call: a transpose is a
//! view with its row and column strides swapped (`MatRef::t`), never a copy. C is always written
//! row-major with unit column stride, which is what every caller wants and what makes splitting it
//! between threads safe.
//!
//! The stride contract, in plain words: element (i, j) of a matrix view is
//! `data[i * row_stride + j * col_stride]`; every such index must lie inside `data`. `check`
//! verifies that for the largest (i, j) before any `unsafe` code runs, so a wrong stride is a
//! panic that names the operand, never an out-of-bounds read.
//!
//! Parallelism: a large product is split into one block of C's rows per rayon thread (each block
//! a separate `sgemm`, which gives the same bits as one when alpha = 1, as every caller has), or,
//! when C has few rows and the shared dimension K is long (a dense layer at a small batch), K is
//! split into a fixed number of blocks whose partial products are summed: fixed, so that results
//! do not depend on the thread count. matrixmultiply's own `threading` feature stays off: on this
//! model's shapes a rayon row split measured faster on every GEMM (see crates/tensor/README.md).

use rayon::prelude::*;

mod axpy;
mod small;
pub use axpy::axpy;
pub use small::{small_gemm, window_gemm, window_gemm_runs, Epilogue};

/// A read-only matrix view: `rows x cols`, element (i, j) at `data[i * row_stride + j * col_stride]`.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

impl<'a> MatRef<'a> {
    /// A dense row-major `rows x cols` matrix.
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        MatRef {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose, as a view: rows and columns (and their strides) swap places.
    pub fn t(self) -> Self {
        MatRef {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }

    /// Rows `r0..r1` of this view.
    fn rows_range(self, r0: usize, r1: usize) -> Self {
        MatRef {
            data: &self.data[(r0 * self.row_stride).min(self.data.len())..],
            rows: r1 - r0,
            ..self
        }
    }

    /// Columns `c0..c1` of this view.
    fn cols_range(self, c0: usize, c1: usize) -> Self {
        MatRef {
            data: &self.data[(c0 * self.col_stride).min(self.data.len())..],
            cols: c1 - c0,
            ..self
        }
    }

    /// Panics (naming `name`) unless every element (i, j) indexes inside `data`.
    pub(crate) fn check(&self, name: &str) {
        if self.rows == 0 || self.cols == 0 {
            return;
        }
        let last = (self.rows - 1)
            .checked_mul(self.row_stride)
            .and_then(|r| {
                (self.cols - 1)
                    .checked_mul(self.col_stride)
                    .and_then(|c| r.checked_add(c))
            })
            .filter(|&last| last < self.data.len() && last <= isize::MAX as usize);
        if last.is_none() {
            panic!(
                "gemm: operand {name} ({} x {}, strides {} / {}) does not fit its {} values",
                self.rows,
                self.cols,
                self.row_stride,
                self.col_stride,
                self.data.len()
            );
        }
    }
}

/// The output of a GEMM: row-major `rows x cols` with row stride `row_stride >= cols`.
#[derive(Debug)]
pub struct MatMut<'a> {
    pub data: &'a mut [f32],
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
}

impl<'a> MatMut<'a> {
    pub fn row_major(data: &'a mut [f32], rows: usize, cols: usize) -> Self {
        MatMut {
            data,
            rows,
            cols,
            row_stride: cols,
        }
    }

    pub(crate) fn check(&self) {
        if self.rows == 0 || self.cols == 0 {
            return;
        }
        let fits = self.row_stride >= self.cols
            && (self.rows - 1)
                .checked_mul(self.row_stride)
                .and_then(|r| r.checked_add(self.cols - 1))
                .is_some_and(|last| last < self.data.len() && last <= isize::MAX as usize);
        if !fits {
            panic!(
                "gemm: output C ({} x {}, row stride {}) does not fit its {} values",
                self.rows,
                self.cols,
                self.row_stride,
                self.data.len()
            );
        }
    }
}

/// Below this many multiply-adds a product runs on one thread: splitting costs more than it saves.
const PARALLEL_MIN_FMAS: usize = 1 << 20;

/// `C = alpha * A·B + beta * C`. With `beta == 0`, C is only written (it may hold NaN).
///
/// # Shapes
/// A: m x k, B: k x n, C: m x n. Panics, naming every shape, if they disagree.
pub fn gemm(alpha: f32, a: MatRef, b: MatRef, beta: f32, c: MatMut) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if b.rows != k || c.rows != m || c.cols != n {
        panic!(
            "gemm: shapes do not chain: A {} x {}, B {} x {}, C {} x {}",
            a.rows, a.cols, b.rows, b.cols, c.rows, c.cols
        );
    }
    let threads = rayon::current_num_threads();
    let fmas = m.saturating_mul(n).saturating_mul(k);
    if fmas < PARALLEL_MIN_FMAS {
        return gemm_serial(alpha, a, b, beta, c);
    }
    // Splitting rows gives the same bits as one GEMM when alpha is 1 (each element's sum over K
    // is computed the same way; with another alpha, matrixmultiply scales full and edge tiles
    // differently, and where the edge falls would depend on the split), so it may depend on the
    // thread count. Blocks keep at least 16 rows: each re-packs all of B. Splitting K changes the order of the sum:
    // it is decided by the shape alone, never by the threads, so that the result is the same on
    // any number of threads (1 thread runs the blocks one after the other).
    if m >= 16 * K_BLOCKS && alpha == 1.0 {
        gemm_split_rows(alpha, a, b, beta, c, threads.min(m / 16));
    } else if k >= 256 * K_BLOCKS {
        gemm_split_k(alpha, a, b, beta, c, K_BLOCKS);
    } else {
        gemm_serial(alpha, a, b, beta, c);
    }
}

/// How many blocks K is split into (when C has too few rows to split): fixed, see `gemm`.
const K_BLOCKS: usize = 2;

/// One block of C's rows per thread; each block is an independent GEMM.
fn gemm_split_rows(alpha: f32, a: MatRef, b: MatRef, beta: f32, c: MatMut, blocks: usize) {
    if blocks < 2 {
        return gemm_serial(alpha, a, b, beta, c);
    }
    let rows_per_block = c.rows.div_ceil(blocks);
    let (n, rsc) = (c.cols, c.row_stride);
    c.data
        .par_chunks_mut(rows_per_block * rsc)
        .enumerate()
        .for_each(|(i, c_block)| {
            let r0 = i * rows_per_block;
            let r1 = (r0 + rows_per_block).min(a.rows);
            if r0 >= r1 {
                return;
            }
            let c_block = MatMut {
                data: c_block,
                rows: r1 - r0,
                cols: n,
                row_stride: rsc,
            };
            gemm_serial(alpha, a.rows_range(r0, r1), b, beta, c_block);
        });
}

/// Splits the shared dimension K: each thread computes A[:, k0..k1]·B[k0..k1, :] into its own
/// buffer, then C = beta * C + alpha * (sum of the partial products).
fn gemm_split_k(alpha: f32, a: MatRef, b: MatRef, beta: f32, c: MatMut, blocks: usize) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let k_per_block = k.div_ceil(blocks);
    let partials: Vec<Vec<f32>> = (0..blocks)
        .into_par_iter()
        .map(|i| {
            let k0 = (i * k_per_block).min(k);
            let k1 = (k0 + k_per_block).min(k);
            let mut part = vec![0.0f32; m * n];
            if k0 < k1 {
                let b_rows = MatRef {
                    data: &b.data[(k0 * b.row_stride).min(b.data.len())..],
                    rows: k1 - k0,
                    ..b
                };
                gemm_serial(
                    alpha,
                    a.cols_range(k0, k1),
                    b_rows,
                    0.0,
                    MatMut::row_major(&mut part, m, n),
                );
            }
            part
        })
        .collect();
    for i in 0..m {
        let c_row = &mut c.data[i * c.row_stride..i * c.row_stride + n];
        for (j, cv) in c_row.iter_mut().enumerate() {
            let sum: f32 = partials.iter().map(|p| p[i * n + j]).sum();
            // beta == 0 must not read C: it may hold NaN or garbage.
            *cv = if beta == 0.0 { sum } else { beta * *cv + sum };
        }
    }
}

/// The single call into matrixmultiply, after every operand has been checked.
pub fn gemm_serial(alpha: f32, a: MatRef, b: MatRef, beta: f32, c: MatMut) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert!(
        b.rows == k && c.rows == m && c.cols == n,
        "gemm: shapes do not chain: A {} x {}, B {} x {}, C {} x {}",
        a.rows,
        a.cols,
        b.rows,
        b.cols,
        c.rows,
        c.cols
    );
    a.check("A");
    b.check("B");
    c.check();
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: `check` proved that for every (i, j) of each operand, i * row_stride + j *
    // col_stride < data.len() and fits isize, so every pointer sgemm forms stays in bounds. C is
    // borrowed mutably, so it cannot alias A or B, and its rows do not overlap (row_stride >= n).
    // With k == 0 sgemm reads no A or B and scales C by beta, which is well defined.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            alpha,
            a.data.as_ptr(),
            a.row_stride as isize,
            a.col_stride as isize,
            b.data.as_ptr(),
            b.row_stride as isize,
            b.col_stride as isize,
            beta,
            c.data.as_mut_ptr(),
            c.row_stride as isize,
            1,
        );
    }
}
