//! `small_gemm`: `C = A·B` without packing, for products whose output has few columns (a
//! multiple of 32, at most a few hundred rows of K): the sixteen products of every Winograd block
//! and the blocks of a one-channel im2col convolution.
//!
//! Why not matrixmultiply: it first copies A and B into its own panel layout ("packing"), which
//! pays off when each copied value then feeds many multiply-adds. Here N is 32 or 64, so a packed
//! value of A feeds only two to four vector multiply-adds, and perf showed packing at 15% of the
//! Winograd convolution's time, half as much as the multiply-adds themselves.
//!
//! Nothing is copied here. B has unit column stride, so a row of B goes straight into vector
//! registers; A is read in place through its strides, one value at a time, broadcast to a whole
//! register. The micro-kernel holds an `R x 32` block of C in `2R` AVX-512 registers (R = 12
//! uses 24 of the 32) and walks K once: for each p it loads B(p, j0..j0 + 32) and, for each row
//! i, adds `A(i, p) · B(p, ..)` with one fused multiply-add per register. Rows left over at the
//! bottom use R = 8, 4, 2 and 1.
//!
//! Every element of C is `Σ_p A(i, p) · B(p, j)` summed in the order p = 0, 1, .., K-1 with fused
//! multiply-adds, whichever R computes it, so the result does not depend on how C is cut.
//!
//! The kernel needs AVX-512F. It is compiled into every x86-64 build (`#[target_feature]` on the
//! micro-kernel) and runs where `isa::avx512()` finds the CPU has it (and `CONVLAB_MAX_ISA` does
//! not turn it off). CPUs with AVX2 and FMA but not AVX-512 run the same kernel on ymm registers
//! (`avx2` below: blocks of R x 16, R up to 6, the same order of sums and so the same bits; on a
//! 2-vCPU AMD EPYC without AVX-512 it made a chapter epoch 1.15x faster, docs/PERFORMANCE.md).
//! On other CPUs and architectures, or when N is not a multiple of 16 or B's columns are not
//! contiguous, `small_gemm` is `gemm_serial` (matrixmultiply).

use super::{gemm_serial, MatMut, MatRef};

/// What happens to each element of C before it is stored: `+ bias[j]`, then ReLU (a NaN stays
/// NaN), as `elementwise::add_bias` and `relu` would do in passes of their own.
#[derive(Clone, Copy, Debug, Default)]
pub struct Epilogue<'a> {
    pub bias: Option<&'a [f32]>,
    pub relu: bool,
}

/// C = A·B (C is overwritten, so it may hold anything on entry). Panics, naming every shape,
/// unless the shapes chain and every view fits its data.
pub fn small_gemm(a: MatRef, b: MatRef, c: MatMut) {
    small_gemm_on(crate::isa::active(), a, b, c)
}

/// `small_gemm` with the vector kernels capped at `isa`, so tests can run every path on one
/// machine: the AVX-512 kernel, the AVX2 one (`avx2`, 6 x 16 blocks, the same order of sums, so
/// the same bits), or matrixmultiply. A level the CPU lacks falls to the next one it has.
pub(crate) fn small_gemm_on(isa: crate::isa::Isa, a: MatRef, b: MatRef, c: MatMut) {
    #[cfg(target_arch = "x86_64")]
    {
        use crate::isa::{detected, Isa};
        let isa = isa.min(detected());
        let fits = |cols: usize| b.col_stride == 1 && b.cols.is_multiple_of(cols) && a.cols > 0;
        let vector =
            (isa == Isa::Avx512 && fits(avx512::COLS)) || (isa >= Isa::Avx2 && fits(avx2::COLS));
        if vector {
            assert!(
                a.cols == b.rows,
                "small_gemm: shapes do not chain: A {} x {}, B {} x {}",
                a.rows,
                a.cols,
                b.rows,
                b.cols
            );
            a.check("A");
            if isa == Isa::Avx512 && fits(avx512::COLS) {
                let a_cols = avx512::Strided(a.col_stride);
                return avx512::gemm(
                    a.data,
                    a.rows,
                    a.row_stride,
                    a_cols,
                    b,
                    c,
                    Epilogue::default(),
                );
            }
            return avx2::gemm(a, b, c);
        }
    }
    gemm_serial(1.0, a, b, 0.0, c);
}

/// Whether `window_gemm` runs here for a B with `cols` columns: it needs the AVX-512 micro-kernel
/// (`isa::avx512()`; a CPU without it builds the patch matrix and calls `small_gemm`).
pub fn window_gemm_runs(cols: usize) -> bool {
    cfg!(target_arch = "x86_64") && crate::isa::avx512() && cols.is_multiple_of(32) && cols > 0
}

/// C = A·B, then the epilogue, where the rows of A are windows of one array x:
/// `A(i, p) = x[i * step + taps[p]]`. A convolution's patch matrix is such an A over a padded
/// image (step: one output pixel; taps: where each kernel tap sits relative to the window), so
/// its product is computed straight from the image, without building the patches.
///
/// # Shapes
/// A: c.rows x taps.len(), B: taps.len() x n with unit column stride, C: c.rows x n. Panics
/// unless `window_gemm_runs(n)`, the shapes agree and every window lies inside x.
pub fn window_gemm(
    x: &[f32],
    step: usize,
    taps: &[usize],
    b: MatRef,
    c: MatMut,
    epilogue: Epilogue,
) {
    assert!(
        window_gemm_runs(b.cols) && b.col_stride == 1 && !taps.is_empty(),
        "window_gemm: needs AVX-512, {} columns (a multiple of 32), unit column stride and taps",
        b.cols
    );
    let last_tap = taps.iter().copied().max().unwrap_or(0);
    let last = c
        .rows
        .saturating_sub(1)
        .checked_mul(step)
        .and_then(|r| r.checked_add(last_tap));
    assert!(
        c.rows == 0 || last.is_some_and(|last| last < x.len()),
        "window_gemm: {} windows of step {step} with taps up to {last_tap} do not fit {} values",
        c.rows,
        x.len()
    );
    #[cfg(target_arch = "x86_64")]
    avx512::gemm(x, c.rows, step, avx512::Taps(taps), b, c, epilogue);
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{Epilogue, MatMut, MatRef};

    /// Columns of C per micro-kernel call: two registers of 16 f32.
    pub const COLS: usize = 32;

    /// Where column p of A starts, relative to its row's start.
    pub trait Columns: Copy {
        /// The tallest block the micro-kernel computes at once.
        const MAX_ROWS: usize;
        fn at(self, p: usize) -> usize;
        /// The largest `at(p)` for p < k (k > 0).
        fn last(self, k: usize) -> usize;
    }

    /// A matrix: column p at `p * stride`.
    #[derive(Clone, Copy)]
    pub struct Strided(pub usize);

    impl Columns for Strided {
        const MAX_ROWS: usize = 12;
        #[inline(always)]
        fn at(self, p: usize) -> usize {
            p * self.0
        }
        fn last(self, k: usize) -> usize {
            (k - 1) * self.0
        }
    }

    /// Windows: column p at `taps[p]`.
    #[derive(Clone, Copy)]
    pub struct Taps<'a>(pub &'a [usize]);

    impl Columns for Taps<'_> {
        // With 12 rows the compiler spilled accumulators in the loop that looks up the taps
        // (perf annotate); 8 rows run conv1's forward faster (docs/PERFORMANCE.md).
        const MAX_ROWS: usize = 8;
        #[inline(always)]
        fn at(self, p: usize) -> usize {
            self.0[p]
        }
        fn last(self, k: usize) -> usize {
            self.0[..k].iter().copied().max().unwrap_or(0)
        }
    }

    /// The whole product, cut into micro-kernel blocks of R rows by 32 columns. A has `m` rows,
    /// row i starting at `a[i * row_stride]`, and `b.rows` columns placed by `cols`; the caller
    /// has checked that every element of A lies inside `a`.
    pub fn gemm<Cols: Columns>(
        a: &[f32],
        m: usize,
        row_stride: usize,
        cols: Cols,
        b: MatRef,
        c: MatMut,
        epilogue: Epilogue,
    ) {
        let (k, n) = (b.rows, b.cols);
        assert!(
            c.rows == m && c.cols == n,
            "small_gemm: shapes do not chain: A {m} x {k}, B {} x {}, C {} x {}",
            b.rows,
            b.cols,
            c.rows,
            c.cols
        );
        assert!(k > 0 && b.col_stride == 1 && n.is_multiple_of(COLS));
        if let Some(bias) = epilogue.bias {
            assert_eq!(bias.len(), n, "small_gemm: bias length");
        }
        b.check("B");
        c.check();
        for j0 in (0..n).step_by(COLS) {
            let mut i0 = 0;
            while i0 < m {
                let rows = match m - i0 {
                    12.. if Cols::MAX_ROWS >= 12 => 12,
                    8.. => 8,
                    4.. => 4,
                    2.. => 2,
                    _ => 1,
                };
                let block = Block {
                    a: &a[i0 * row_stride..],
                    row_stride,
                    cols,
                    k,
                    b: &b.data[j0..],
                    b_row_stride: b.row_stride,
                    bias: epilogue.bias.map(|bias| &bias[j0..j0 + COLS]),
                    relu: epilogue.relu,
                };
                let c_block = &mut c.data[i0 * c.row_stride + j0..];
                match rows {
                    12 => block.sums::<12>(c_block, c.row_stride),
                    8 => block.sums::<8>(c_block, c.row_stride),
                    4 => block.sums::<4>(c_block, c.row_stride),
                    2 => block.sums::<2>(c_block, c.row_stride),
                    _ => block.sums::<1>(c_block, c.row_stride),
                }
                i0 += rows;
            }
        }
    }

    /// One micro-kernel's operands: A(i, p) at `a[i * row_stride + cols.at(p)]`, B(p, j) at
    /// `b[p * b_row_stride + j]` for p < k, and the epilogue's 32 biases.
    struct Block<'a, Cols> {
        a: &'a [f32],
        row_stride: usize,
        cols: Cols,
        k: usize,
        b: &'a [f32],
        b_row_stride: usize,
        bias: Option<&'a [f32]>,
        relu: bool,
    }

    impl<Cols: Columns> Block<'_, Cols> {
        /// Writes the R x 32 sums, after the epilogue, into `c` (row i at
        /// `c[i * c_row_stride..]`).
        #[inline(always)]
        fn sums<const R: usize>(&self, c: &mut [f32], c_row_stride: usize) {
            // The bounds of every access below, checked once instead of in the inner loop.
            assert!(
                (R - 1) * self.row_stride + self.cols.last(self.k) < self.a.len()
                    && (self.k - 1) * self.b_row_stride + COLS <= self.b.len()
                    && (R - 1) * c_row_stride + COLS <= c.len()
                    && self.bias.is_none_or(|bias| bias.len() == COLS),
                "small_gemm: block bounds"
            );
            // Every caller reaches here only after `isa` found AVX-512F on this CPU; checked
            // again (a cached load) because calling the kernel without it would be undefined.
            assert!(
                crate::isa::detected() == crate::isa::Isa::Avx512,
                "small_gemm: the AVX-512 kernel on a CPU without AVX-512F"
            );
            // SAFETY: the CPU has AVX-512F (asserted above), and the assert before it covers
            // every index `kernel` forms.
            unsafe { self.kernel::<R>(c, c_row_stride) }
        }

        /// # Safety
        /// The CPU has AVX-512F, and the bounds asserted in `sums` hold.
        #[target_feature(enable = "avx512f")]
        unsafe fn kernel<const R: usize>(&self, c: &mut [f32], c_row_stride: usize) {
            let (a, b) = (self.a.as_ptr(), self.b.as_ptr());
            let mut acc = [[_mm512_setzero_ps(); 2]; R];
            for p in 0..self.k {
                let b_row = b.add(p * self.b_row_stride);
                let b_p = [_mm512_loadu_ps(b_row), _mm512_loadu_ps(b_row.add(16))];
                let a_col = a.add(self.cols.at(p));
                for (i, acc_row) in acc.iter_mut().enumerate() {
                    let a_ip = _mm512_set1_ps(*a_col.add(i * self.row_stride));
                    acc_row[0] = _mm512_fmadd_ps(a_ip, b_p[0], acc_row[0]);
                    acc_row[1] = _mm512_fmadd_ps(a_ip, b_p[1], acc_row[1]);
                }
            }
            // The epilogue, row by row as it is stored: + bias, then ReLU as a select (x where
            // x > 0 or NaN, else +0.0: exactly `relu_value`).
            let zero = _mm512_setzero_ps();
            let bias = self.bias.map(|bias| {
                [
                    _mm512_loadu_ps(bias.as_ptr()),
                    _mm512_loadu_ps(bias.as_ptr().add(16)),
                ]
            });
            let c = c.as_mut_ptr();
            for (i, acc_row) in acc.iter().enumerate() {
                for (half, &value) in acc_row.iter().enumerate() {
                    let mut value = value;
                    if let Some(bias) = bias {
                        value = _mm512_add_ps(value, bias[half]);
                    }
                    if self.relu {
                        let keep = _mm512_cmp_ps_mask::<_CMP_NLE_UQ>(value, zero);
                        value = _mm512_maskz_mov_ps(keep, value);
                    }
                    _mm512_storeu_ps(c.add(i * c_row_stride + 16 * half), value);
                }
            }
        }
    }
}

/// The AVX2 + FMA micro-kernel of `small_gemm`, for CPUs without AVX-512 (where matrixmultiply's
/// packing took 15% of a chapter epoch): an `R x 16` block of C in `2R` of the 16 ymm registers
/// (R = 6 uses 12, leaving room for B's two vectors and A's broadcast), walked over K once in
/// order, exactly as the AVX-512 kernel does, so both give the triple loop's bits.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{MatMut, MatRef};

    /// Columns of C per micro-kernel call: two registers of 8 f32.
    pub const COLS: usize = 16;

    /// C = A·B, cut into blocks of R rows by 16 columns; A read through its strides.
    pub fn gemm(a: MatRef, b: MatRef, c: MatMut) {
        let (m, k, n) = (a.rows, b.rows, b.cols);
        assert!(
            c.rows == m && c.cols == n,
            "small_gemm: shapes do not chain: A {m} x {k}, B {k} x {n}, C {} x {}",
            c.rows,
            c.cols
        );
        assert!(k > 0 && b.col_stride == 1 && n.is_multiple_of(COLS));
        b.check("B");
        c.check();
        for j0 in (0..n).step_by(COLS) {
            let mut i0 = 0;
            while i0 < m {
                let rows = match m - i0 {
                    6.. => 6,
                    4.. => 4,
                    2.. => 2,
                    _ => 1,
                };
                let block = Block {
                    a: &a.data[i0 * a.row_stride..],
                    row_stride: a.row_stride,
                    col_stride: a.col_stride,
                    k,
                    b: &b.data[j0..],
                    b_row_stride: b.row_stride,
                };
                let c_block = &mut c.data[i0 * c.row_stride + j0..];
                match rows {
                    6 => block.sums::<6>(c_block, c.row_stride),
                    4 => block.sums::<4>(c_block, c.row_stride),
                    2 => block.sums::<2>(c_block, c.row_stride),
                    _ => block.sums::<1>(c_block, c.row_stride),
                }
                i0 += rows;
            }
        }
    }

    /// A(i, p) at `a[i * row_stride + p * col_stride]`, B(p, j) at `b[p * b_row_stride + j]`.
    struct Block<'a> {
        a: &'a [f32],
        row_stride: usize,
        col_stride: usize,
        k: usize,
        b: &'a [f32],
        b_row_stride: usize,
    }

    impl Block<'_> {
        #[inline(always)]
        fn sums<const R: usize>(&self, c: &mut [f32], c_row_stride: usize) {
            // The bounds of every access below, checked once instead of in the inner loop.
            assert!(
                (R - 1) * self.row_stride + (self.k - 1) * self.col_stride < self.a.len()
                    && (self.k - 1) * self.b_row_stride + COLS <= self.b.len()
                    && (R - 1) * c_row_stride + COLS <= c.len(),
                "small_gemm: block bounds"
            );
            assert!(
                crate::isa::detected() >= crate::isa::Isa::Avx2,
                "small_gemm: the AVX2 kernel on a CPU without AVX2 and FMA"
            );
            // SAFETY: the CPU has AVX2 and FMA (asserted above; `detected` requires both), and
            // the assert before it covers every index `kernel` forms.
            unsafe { self.kernel::<R>(c, c_row_stride) }
        }

        /// # Safety
        /// The CPU has AVX2 and FMA, and the bounds asserted in `sums` hold.
        #[target_feature(enable = "avx2,fma")]
        unsafe fn kernel<const R: usize>(&self, c: &mut [f32], c_row_stride: usize) {
            let (a, b) = (self.a.as_ptr(), self.b.as_ptr());
            let mut acc = [[_mm256_setzero_ps(); 2]; R];
            for p in 0..self.k {
                let b_row = b.add(p * self.b_row_stride);
                let b_p = [_mm256_loadu_ps(b_row), _mm256_loadu_ps(b_row.add(8))];
                let a_col = a.add(p * self.col_stride);
                for (i, acc_row) in acc.iter_mut().enumerate() {
                    let a_ip = _mm256_set1_ps(*a_col.add(i * self.row_stride));
                    acc_row[0] = _mm256_fmadd_ps(a_ip, b_p[0], acc_row[0]);
                    acc_row[1] = _mm256_fmadd_ps(a_ip, b_p[1], acc_row[1]);
                }
            }
            let c = c.as_mut_ptr();
            for (i, acc_row) in acc.iter().enumerate() {
                _mm256_storeu_ps(c.add(i * c_row_stride), acc_row[0]);
                _mm256_storeu_ps(c.add(i * c_row_stride + 8), acc_row[1]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::isa::Isa;
    use crate::rng::Rng;

    /// The plain triple loop, summing over p in order with fused multiply-adds (the kernel's
    /// order, so on AVX-512 the bits must agree exactly).
    fn naive(a: &MatRef, b: &MatRef) -> Vec<f32> {
        let mut c = vec![0.0; a.rows * b.cols];
        for i in 0..a.rows {
            for j in 0..b.cols {
                let mut s = 0.0f32;
                for p in 0..a.cols {
                    let a_ip = a.data[i * a.row_stride + p * a.col_stride];
                    s = a_ip.mul_add(b.data[p * b.row_stride + j], s);
                }
                c[i * b.cols + j] = s;
            }
        }
        c
    }

    /// Whole numbers in -4..4: every product and partial sum is exact, so any summation order
    /// (matrixmultiply's on CPUs without AVX-512) gives the same bits.
    fn whole(len: usize, rng: &mut Rng) -> Vec<f32> {
        (0..len)
            .map(|_| (rng.uniform() * 8.0).floor() - 4.0)
            .collect()
    }

    #[test]
    fn agrees_with_the_triple_loop_on_every_shape() {
        let mut rng = Rng::new(7);
        // Row counts that use each micro-kernel height (12, 8, 4, 2, 1) and their mixtures, this
        // model's products (147 tiles, 32 / 64 channels; 9 taps), and shapes that fall back.
        for &(m, k, n) in &[
            (1, 1, 32),
            (12, 3, 32),
            (17, 5, 64),
            (31, 32, 96),
            (147, 32, 64),
            (32, 147, 64),
            (147, 64, 32),
            (6272, 9, 32),
            (9, 6272, 32),
            (5, 7, 33),
            (3, 0, 32),
            (0, 4, 32),
        ] {
            for a_transposed in [false, true] {
                let a_data = whole(m * k, &mut rng);
                let a = if a_transposed {
                    MatRef::row_major(&a_data, k, m).t()
                } else {
                    MatRef::row_major(&a_data, m, k)
                };
                let b_data = whole(k * n, &mut rng);
                let b = MatRef::row_major(&b_data, k, n);
                // NaN first, so an element the kernels skip shows up.
                let mut c = vec![f32::NAN; m * n];
                small_gemm(a, b, MatMut::row_major(&mut c, m, n));
                assert_eq!(
                    c,
                    naive(&a, &b),
                    "{m}x{k}x{n}, A transposed: {a_transposed}"
                );
            }
        }
    }

    /// Both paths (the AVX-512 kernel where the CPU has it, and the portable one) on every shape.
    #[test]
    fn both_paths_agree_with_the_triple_loop() {
        let mut rng = Rng::new(17);
        for &(m, k, n) in &[(13, 9, 32), (147, 32, 64), (5, 3, 96)] {
            let a_data = whole(m * k, &mut rng);
            let b_data = whole(k * n, &mut rng);
            let (a, b) = (
                MatRef::row_major(&a_data, m, k),
                MatRef::row_major(&b_data, k, n),
            );
            for isa in [Isa::Baseline, Isa::Avx2, Isa::Avx512] {
                let mut c = vec![f32::NAN; m * n];
                small_gemm_on(isa, a, b, MatMut::row_major(&mut c, m, n));
                assert_eq!(c, naive(&a, &b), "{m}x{k}x{n}, {isa:?}");
            }
        }
    }

    /// The vector kernels sum in the triple loop's order, so fractions give its bits exactly, on
    /// every level the CPU has (and transposed A, the Winograd products' layout, too).
    #[test]
    fn gives_the_triple_loops_bits_on_fractions() {
        let mut rng = Rng::new(8);
        for &(m, k, n) in &[(29, 41, 64), (7, 147, 32), (147, 32, 48)] {
            let a_data: Vec<f32> = (0..m * k).map(|_| rng.uniform() - 0.5).collect();
            let b_data: Vec<f32> = (0..k * n).map(|_| rng.uniform() - 0.5).collect();
            for a in [
                MatRef::row_major(&a_data, m, k),
                MatRef::row_major(&a_data, k, m).t(),
            ] {
                let b = MatRef::row_major(&b_data, k, n);
                for isa in [Isa::Avx2, Isa::Avx512] {
                    if crate::isa::detected() < isa {
                        continue;
                    }
                    let mut c = vec![f32::NAN; m * n];
                    small_gemm_on(isa, a, b, MatMut::row_major(&mut c, m, n));
                    assert_eq!(c, naive(&a, &b), "{m}x{k}x{n}, {isa:?}");
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "does not fit")]
    fn rejects_an_operand_too_short_for_its_shape() {
        let a = [1.0f32; 12 * 4 - 1];
        let b = [1.0f32; 4 * 32];
        let mut c = [0.0f32; 12 * 32];
        small_gemm(
            MatRef {
                data: &a,
                rows: 12,
                cols: 4,
                row_stride: 4,
                col_stride: 1,
            },
            MatRef::row_major(&b, 4, 32),
            MatMut::row_major(&mut c, 12, 32),
        );
    }
}
