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
//! Parallelism: a large product is split between rayon threads in one of three ways, chosen by
//! its shape:
//! - by rows of C, one block per thread (each block a separate `sgemm`, which gives the same bits
//!   as one when alpha = 1, as every caller has): most products;
//! - when C has few rows (a dense layer at a small batch), so that every row block would pack
//!   all of B for a few rows: along K, when K is long (x·W), into a fixed number of blocks whose
//!   partial products are summed (fixed, so that results do not depend on the thread count), or
//!   else by columns of C (dY·Wᵀ), each block with its own columns of B (the same bits again).
//!
//! Splitting x·W along W's rows and dY·Wᵀ along the same rows also keeps each half of W in the
//! cache of the core that used it last; together the chapter's epoch ran 4.90 -> 4.59 s on a
//! 2-vCPU Xeon (docs/PERFORMANCE.md). matrixmultiply's own `threading` feature stays off: on
//! this model's shapes a rayon row split measured faster on every GEMM (crates/tensor/README.md).

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
    // Splitting rows or columns gives the same bits as one GEMM when alpha is 1 (each element's
    // sum over K is computed the same way; with another alpha, matrixmultiply scales full and
    // edge tiles differently, and where the edge falls would depend on the split), so those
    // splits may depend on the thread count. Row blocks keep at least 16 rows, column blocks 256
    // columns. Splitting K changes the order of the sum: it is decided by the shape alone, never
    // by the threads, so that the result is the same on any number of threads (1 thread runs the
    // blocks one after the other).
    if k >= 256 * K_BLOCKS && m < FEW_ROWS {
        gemm_split_k(alpha, a, b, beta, c, K_BLOCKS);
    } else if n >= 256 * K_BLOCKS && m < FEW_ROWS && alpha == 1.0 {
        gemm_split_cols(alpha, a, b, beta, c, threads.min(n / 256));
    } else if m >= 16 * K_BLOCKS && alpha == 1.0 {
        gemm_split_rows(alpha, a, b, beta, c, threads.min(m / 16));
    } else {
        gemm_serial(alpha, a, b, beta, c);
    }
}

/// Below this many rows of C, K or the columns are split rather than the rows: each row block
/// would pack all of B (K x N) to feed it to only a few rows.
const FEW_ROWS: usize = 64;

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

/// One block of C's columns per thread, for a C of few rows and many columns (a dense layer's
/// input gradient dY·Wᵀ at a small batch): each block multiplies all of A, which is small, by its
/// columns of B, so no thread packs the whole of B. The same bits as one GEMM when alpha is 1,
/// for the reason the row split gives them.
fn gemm_split_cols(alpha: f32, a: MatRef, b: MatRef, beta: f32, c: MatMut, blocks: usize) {
    if blocks < 2 || c.rows == 0 {
        return gemm_serial(alpha, a, b, beta, c);
    }
    a.check("A");
    b.check("B");
    c.check();
    // Block edges on multiples of 32 columns, two AVX-512 registers.
    let cols_per_block = c.cols.div_ceil(blocks).next_multiple_of(32);
    let (rows, row_stride) = (c.rows, c.row_stride);
    let out = SharedOut(c.data.as_mut_ptr());
    (0..c.cols.div_ceil(cols_per_block))
        .into_par_iter()
        .for_each(|block| {
            let j0 = block * cols_per_block;
            let j1 = (j0 + cols_per_block).min(b.cols);
            let b_cols = b.cols_range(j0, j1);
            // SAFETY: `check` proved every element (i, j) of A, B and C indexes inside its data
            // (C's at i * row_stride + j < c.data.len(), row_stride >= cols). This block forms
            // only C's elements (i, j) with j0 <= j < j1, B's columns j0..j1 (in bounds: a part
            // of B) and all of A, so its pointers stay in bounds, and no two blocks write the
            // same element of C. C is borrowed mutably for the whole call, so nothing else reads
            // or writes it meanwhile; A and B are only read.
            unsafe {
                sgemm_unchecked(alpha, a, b_cols, beta, out.column(j0), rows, row_stride);
            }
        });
}

/// C's storage, shared between the blocks of `gemm_split_cols`, each writing its own columns.
#[derive(Clone, Copy)]
struct SharedOut(*mut f32);

impl SharedOut {
    /// Where column j of C's first row is (a method, so closures capture the whole `SharedOut`,
    /// not its raw pointer).
    ///
    /// # Safety
    /// j is a column of C.
    unsafe fn column(self, j: usize) -> *mut f32 {
        // SAFETY: j < C's columns <= its row stride, inside C's storage (the caller's contract).
        unsafe { self.0.add(j) }
    }
}
// SAFETY: the blocks that share it write disjoint elements (see `gemm_split_cols`).
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}

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
    // SAFETY: `check` proved that for every (i, j) of each operand, i * row_stride + j *
    // col_stride < data.len() and fits isize, so every pointer sgemm forms stays in bounds. C is
    // borrowed mutably, so it cannot alias A or B, and its rows do not overlap (row_stride >= n).
    unsafe { sgemm_unchecked(alpha, a, b, beta, c.data.as_mut_ptr(), m, c.row_stride) }
}

/// The call into matrixmultiply: C (`rows x b.cols` at `c`, row stride `c_row_stride`, unit
/// column stride) = alpha * A·B + beta * C.
///
/// # Safety
/// Every element (i, j) of A and B indexes inside its data (`MatRef::check`), every
/// `c + i * c_row_stride + j` for i < rows, j < b.cols is valid for reads and writes and written
/// by nobody else during the call, `c_row_stride >= b.cols`, and A's shape chains with B's.
unsafe fn sgemm_unchecked(
    alpha: f32,
    a: MatRef,
    b: MatRef,
    beta: f32,
    c: *mut f32,
    rows: usize,
    c_row_stride: usize,
) {
    let (k, n) = (a.cols, b.cols);
    if rows == 0 || n == 0 {
        return;
    }
    // With k == 0 sgemm reads no A or B and scales C by beta, which is well defined.
    // SAFETY: the caller's contract above is sgemm's.
    unsafe {
        matrixmultiply::sgemm(
            rows,
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
            c,
            c_row_stride as isize,
            1,
        );
    }
}
