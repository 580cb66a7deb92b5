//! `small_gemm`: `C = A·B` without packing, for products whose output has few columns (a
//! multiple of 16 or 32, at most a few hundred rows of K): the sixteen products of every Winograd
//! block and the blocks of a one-channel im2col convolution; and `window_gemm`, the same product
//! with A's rows read as windows of an image (a convolution's patches, never built).
//!
//! Why not matrixmultiply: it first copies A and B into its own panel layout ("packing"), which
//! pays off when each copied value then feeds many multiply-adds. Here N is 32 or 64, so a packed
//! value of A feeds only two to four vector multiply-adds, and perf showed packing at 15% of the
//! Winograd convolution's time, half as much as the multiply-adds themselves.
//!
//! Nothing is copied here. B has unit column stride, so a row of B goes straight into vector
//! registers; A is read in place (through its strides, or through a table of taps), one value at
//! a time, broadcast to a whole register. A micro-kernel holds an `R x COLS` block of C in `2R`
//! vector registers and walks K once: for each p it loads B(p, j0..j0 + COLS) and, for each row
//! i, adds `A(i, p) · B(p, ..)` with one fused multiply-add per register. There are two
//! micro-kernels, one driver (`vector::gemm`) cutting C into their blocks:
//! - AVX-512F (`avx512`): COLS = 32 in two zmm registers a row, R = 12 (24 of the 32 registers;
//!   8 when A is read through taps), then 8, 4, 2 and 1 for the rows left at the bottom;
//! - AVX2 + FMA (`avx2`), for CPUs without AVX-512: COLS = 16 in two ymm registers a row, R = 6
//!   (12 of the 16), then 4, 2 and 1 (on a 2-vCPU AMD EPYC without AVX-512 it made a chapter
//!   epoch 1.15x faster than matrixmultiply, and reading conv1's windows through it made conv1's
//!   forward 0.66 -> 0.47 ms a step: docs/PERFORMANCE.md).
//!
//! Every element of C is `Σ_p A(i, p) · B(p, j)` summed in the order p = 0, 1, .., K-1 with fused
//! multiply-adds, whichever kernel and R compute it, so the result does not depend on how C is
//! cut nor on the CPU: both kernels give the triple loop's bits.
//!
//! The kernels are compiled into every x86-64 build (`#[target_feature]` on the micro-kernels)
//! and run where `isa::active()` finds the CPU has them (and `CONVLAB_MAX_ISA` does not turn them
//! off). On other CPUs and architectures, or when N is not a multiple of 16 or B's columns are
//! not contiguous, `small_gemm` is `gemm_serial` (matrixmultiply) and `window_gemm` does not run
//! (`window_gemm_runs`: the caller builds the patch matrix).

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
/// machine: the AVX-512 kernel, the AVX2 one, or matrixmultiply. A level the CPU lacks falls to
/// the next one it has.
pub(crate) fn small_gemm_on(isa: crate::isa::Isa, a: MatRef, b: MatRef, c: MatMut) {
    #[cfg(target_arch = "x86_64")]
    {
        let kernel = vector::Kernel::for_columns(isa.min(crate::isa::detected()), b.cols);
        if let Some(kernel) = kernel.filter(|_| b.col_stride == 1 && a.cols > 0) {
            assert!(
                a.cols == b.rows,
                "small_gemm: shapes do not chain: A {} x {}, B {} x {}",
                a.rows,
                a.cols,
                b.rows,
                b.cols
            );
            a.check("A");
            let a_cols = vector::Strided(a.col_stride);
            return vector::gemm(
                kernel,
                a.data,
                a.rows,
                a.row_stride,
                a_cols,
                b,
                c,
                Epilogue::default(),
            );
        }
    }
    gemm_serial(1.0, a, b, 0.0, c);
}

/// Whether `window_gemm` runs here for a B with `cols` columns: it needs one of the vector
/// micro-kernels (AVX-512F, or AVX2 and FMA) and `cols` a multiple of its width (32 or 16); a
/// CPU without them builds the patch matrix and calls `small_gemm`.
pub fn window_gemm_runs(cols: usize) -> bool {
    #[cfg(target_arch = "x86_64")]
    return vector::Kernel::for_columns(crate::isa::active(), cols).is_some();
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = cols;
        false
    }
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
        "window_gemm: needs AVX-512 or AVX2, {} columns (a multiple of 32 or 16), unit column stride and taps",
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
    {
        let kernel = vector::Kernel::for_columns(crate::isa::active(), b.cols)
            .expect("window_gemm_runs checked above");
        vector::gemm(kernel, x, c.rows, step, vector::Taps(taps), b, c, epilogue);
    }
}

/// The driver both micro-kernels share: the operands of one block, and how C is cut into them.
#[cfg(target_arch = "x86_64")]
mod vector {
    use super::{avx2, avx512, Epilogue, MatMut, MatRef};
    use crate::isa::Isa;

    /// Which micro-kernel computes the blocks.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Kernel {
        Avx512,
        Avx2,
    }

    impl Kernel {
        /// The widest kernel `isa` allows whose width divides `cols` (None for 0 columns).
        pub fn for_columns(isa: Isa, cols: usize) -> Option<Kernel> {
            let divides = |width: usize| cols > 0 && cols.is_multiple_of(width);
            if isa == Isa::Avx512 && divides(avx512::COLS) {
                Some(Kernel::Avx512)
            } else if isa >= Isa::Avx2 && divides(avx2::COLS) {
                Some(Kernel::Avx2)
            } else {
                None
            }
        }

        /// Columns of C per block.
        fn width(self) -> usize {
            match self {
                Kernel::Avx512 => avx512::COLS,
                Kernel::Avx2 => avx2::COLS,
            }
        }
    }

    /// Where column p of A starts, relative to its row's start.
    pub trait Columns: Copy {
        /// Whether the columns are looked up in a table (the kernels then hold fewer rows: with
        /// 12 rows the AVX-512 kernel spilled accumulators in the loop that looks up the taps).
        const LOOKUP: bool;
        fn at(self, p: usize) -> usize;
        /// The largest `at(p)` for p < k (k > 0).
        fn last(self, k: usize) -> usize;
    }

    /// A matrix: column p at `p * stride`.
    #[derive(Clone, Copy)]
    pub struct Strided(pub usize);

    impl Columns for Strided {
        const LOOKUP: bool = false;
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
        const LOOKUP: bool = true;
        #[inline(always)]
        fn at(self, p: usize) -> usize {
            self.0[p]
        }
        fn last(self, k: usize) -> usize {
            self.0[..k].iter().copied().max().unwrap_or(0)
        }
    }

    /// The whole product, cut into blocks of R rows by the kernel's width. A has `m` rows, row i
    /// starting at `a[i * row_stride]`, and `b.rows` columns placed by `cols`; the caller has
    /// checked that every element of A lies inside `a`.
    #[allow(clippy::too_many_arguments)] // the operands of one product, as the kernels take them
    pub fn gemm<Cols: Columns>(
        kernel: Kernel,
        a: &[f32],
        m: usize,
        row_stride: usize,
        cols: Cols,
        b: MatRef,
        c: MatMut,
        epilogue: Epilogue,
    ) {
        let (k, n, width) = (b.rows, b.cols, kernel.width());
        assert!(
            c.rows == m && c.cols == n,
            "small_gemm: shapes do not chain: A {m} x {k}, B {} x {}, C {} x {}",
            b.rows,
            b.cols,
            c.rows,
            c.cols
        );
        assert!(k > 0 && b.col_stride == 1 && n.is_multiple_of(width));
        if let Some(bias) = epilogue.bias {
            assert_eq!(bias.len(), n, "small_gemm: bias length");
        }
        b.check("B");
        c.check();
        for j0 in (0..n).step_by(width) {
            let mut i0 = 0;
            while i0 < m {
                let block = Block {
                    a: &a[i0 * row_stride..],
                    row_stride,
                    cols,
                    k,
                    b: &b.data[j0..],
                    b_row_stride: b.row_stride,
                    bias: epilogue.bias.map(|bias| &bias[j0..j0 + width]),
                    relu: epilogue.relu,
                };
                let c_block = &mut c.data[i0 * c.row_stride + j0..];
                i0 += match kernel {
                    Kernel::Avx512 => avx512::block(&block, m - i0, c_block, c.row_stride),
                    Kernel::Avx2 => avx2::block(&block, m - i0, c_block, c.row_stride),
                };
            }
        }
    }

    /// One micro-kernel's operands: A(i, p) at `a[i * row_stride + cols.at(p)]`, B(p, j) at
    /// `b[p * b_row_stride + j]` for p < k, and the epilogue's biases (one a column).
    pub struct Block<'a, Cols> {
        pub a: &'a [f32],
        pub row_stride: usize,
        pub cols: Cols,
        pub k: usize,
        pub b: &'a [f32],
        pub b_row_stride: usize,
        pub bias: Option<&'a [f32]>,
        pub relu: bool,
    }

    impl<Cols: Columns> Block<'_, Cols> {
        /// Panics unless every access of an R x `width` block lies inside its slices: the
        /// bounds the kernels rely on, checked once instead of in the inner loop.
        #[inline(always)]
        pub fn check_bounds(&self, rows: usize, width: usize, c: &[f32], c_row_stride: usize) {
            assert!(
                (rows - 1) * self.row_stride + self.cols.last(self.k) < self.a.len()
                    && (self.k - 1) * self.b_row_stride + width <= self.b.len()
                    && (rows - 1) * c_row_stride + width <= c.len()
                    && self.bias.is_none_or(|bias| bias.len() == width),
                "small_gemm: block bounds"
            );
        }
    }
}

/// The AVX-512F micro-kernel: an `R x 32` block of C in `2R` zmm registers.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::vector::{Block, Columns};

    /// Columns of C per block: two registers of 16 f32.
    pub const COLS: usize = 32;

    /// Computes the tallest block that fits `rows_left` rows into `c` (row i at
    /// `c[i * c_row_stride..]`) and returns its height.
    pub fn block<Cols: Columns>(
        block: &Block<Cols>,
        rows_left: usize,
        c: &mut [f32],
        c_row_stride: usize,
    ) -> usize {
        let tallest = if Cols::LOOKUP { 8 } else { 12 };
        match rows_left.min(tallest) {
            12.. => run::<12, Cols>(block, c, c_row_stride),
            8.. => run::<8, Cols>(block, c, c_row_stride),
            4.. => run::<4, Cols>(block, c, c_row_stride),
            2.. => run::<2, Cols>(block, c, c_row_stride),
            _ => run::<1, Cols>(block, c, c_row_stride),
        }
    }

    #[inline(always)]
    fn run<const R: usize, Cols: Columns>(
        block: &Block<Cols>,
        c: &mut [f32],
        c_row_stride: usize,
    ) -> usize {
        block.check_bounds(R, COLS, c, c_row_stride);
        // Every caller reaches here only after `isa` found AVX-512F on this CPU; checked again
        // (a cached load) because calling the kernel without it would be undefined.
        assert!(
            crate::isa::detected() == crate::isa::Isa::Avx512,
            "small_gemm: the AVX-512 kernel on a CPU without AVX-512F"
        );
        // SAFETY: the CPU has AVX-512F (asserted above), and `check_bounds` covers every index
        // `kernel` forms.
        unsafe { kernel::<R, Cols>(block, c, c_row_stride) };
        R
    }

    /// # Safety
    /// The CPU has AVX-512F, and `check_bounds(R, COLS, c, c_row_stride)` holds.
    #[target_feature(enable = "avx512f")]
    unsafe fn kernel<const R: usize, Cols: Columns>(
        block: &Block<Cols>,
        c: &mut [f32],
        c_row_stride: usize,
    ) {
        let (a, b) = (block.a.as_ptr(), block.b.as_ptr());
        let mut acc = [[_mm512_setzero_ps(); 2]; R];
        for p in 0..block.k {
            let b_row = b.add(p * block.b_row_stride);
            let b_p = [_mm512_loadu_ps(b_row), _mm512_loadu_ps(b_row.add(16))];
            let a_col = a.add(block.cols.at(p));
            for (i, acc_row) in acc.iter_mut().enumerate() {
                let a_ip = _mm512_set1_ps(*a_col.add(i * block.row_stride));
                acc_row[0] = _mm512_fmadd_ps(a_ip, b_p[0], acc_row[0]);
                acc_row[1] = _mm512_fmadd_ps(a_ip, b_p[1], acc_row[1]);
            }
        }
        // The epilogue, row by row as it is stored: + bias, then ReLU as a select (x where
        // x > 0 or NaN, else +0.0: exactly `relu_value`).
        let zero = _mm512_setzero_ps();
        let bias = block.bias.map(|bias| {
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
                if block.relu {
                    let keep = _mm512_cmp_ps_mask::<_CMP_NLE_UQ>(value, zero);
                    value = _mm512_maskz_mov_ps(keep, value);
                }
                _mm512_storeu_ps(c.add(i * c_row_stride + 16 * half), value);
            }
        }
    }
}

/// The AVX2 + FMA micro-kernel, for CPUs without AVX-512: an `R x 16` block of C in `2R` of the
/// 16 ymm registers (R = 6 uses 12, leaving room for B's two vectors and A's broadcast), walked
/// over K once in order, exactly as the AVX-512 kernel does, so both give the same bits.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::vector::{Block, Columns};

    /// Columns of C per block: two registers of 8 f32.
    pub const COLS: usize = 16;

    /// Computes the tallest block that fits `rows_left` rows into `c` and returns its height.
    pub fn block<Cols: Columns>(
        block: &Block<Cols>,
        rows_left: usize,
        c: &mut [f32],
        c_row_stride: usize,
    ) -> usize {
        match rows_left {
            6.. => run::<6, Cols>(block, c, c_row_stride),
            4.. => run::<4, Cols>(block, c, c_row_stride),
            2.. => run::<2, Cols>(block, c, c_row_stride),
            _ => run::<1, Cols>(block, c, c_row_stride),
        }
    }

    #[inline(always)]
    fn run<const R: usize, Cols: Columns>(
        block: &Block<Cols>,
        c: &mut [f32],
        c_row_stride: usize,
    ) -> usize {
        block.check_bounds(R, COLS, c, c_row_stride);
        assert!(
            crate::isa::detected() >= crate::isa::Isa::Avx2,
            "small_gemm: the AVX2 kernel on a CPU without AVX2 and FMA"
        );
        // SAFETY: the CPU has AVX2 and FMA (asserted above; `detected` requires both), and
        // `check_bounds` covers every index `kernel` forms.
        unsafe { kernel::<R, Cols>(block, c, c_row_stride) };
        R
    }

    /// # Safety
    /// The CPU has AVX2 and FMA, and `check_bounds(R, COLS, c, c_row_stride)` holds.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn kernel<const R: usize, Cols: Columns>(
        block: &Block<Cols>,
        c: &mut [f32],
        c_row_stride: usize,
    ) {
        let (a, b) = (block.a.as_ptr(), block.b.as_ptr());
        let mut acc = [[_mm256_setzero_ps(); 2]; R];
        for p in 0..block.k {
            let b_row = b.add(p * block.b_row_stride);
            let b_p = [_mm256_loadu_ps(b_row), _mm256_loadu_ps(b_row.add(8))];
            let a_col = a.add(block.cols.at(p));
            for (i, acc_row) in acc.iter_mut().enumerate() {
                let a_ip = _mm256_set1_ps(*a_col.add(i * block.row_stride));
                acc_row[0] = _mm256_fmadd_ps(a_ip, b_p[0], acc_row[0]);
                acc_row[1] = _mm256_fmadd_ps(a_ip, b_p[1], acc_row[1]);
            }
        }
        // The epilogue as the AVX-512 kernel's: + bias, then ReLU as a select (the compare is
        // all ones where x > 0 or NaN, and ANDing with it leaves x there and +0.0 elsewhere).
        let zero = _mm256_setzero_ps();
        let bias = block.bias.map(|bias| {
            [
                _mm256_loadu_ps(bias.as_ptr()),
                _mm256_loadu_ps(bias.as_ptr().add(8)),
            ]
        });
        let c = c.as_mut_ptr();
        for (i, acc_row) in acc.iter().enumerate() {
            for (half, &value) in acc_row.iter().enumerate() {
                let mut value = value;
                if let Some(bias) = bias {
                    value = _mm256_add_ps(value, bias[half]);
                }
                if block.relu {
                    let keep = _mm256_cmp_ps::<_CMP_NLE_UQ>(value, zero);
                    value = _mm256_and_ps(keep, value);
                }
                _mm256_storeu_ps(c.add(i * c_row_stride + 8 * half), value);
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

    /// `window_gemm`'s product (A's rows read through taps, with the epilogue) on each kernel the
    /// CPU has, against the patch matrix built by hand, the triple loop, + bias and ReLU.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn windows_give_the_triple_loops_bits_with_the_epilogue_on_every_kernel() {
        use super::vector::{gemm, Kernel, Taps};
        let mut rng = Rng::new(9);
        // A 3x3 window of one channel on frames 30 values wide: taps of rows 0, 30 and 60.
        let taps: Vec<usize> = (0..3)
            .flat_map(|ky| (0..3).map(move |kx| ky * 30 + kx))
            .collect();
        for (kernel, isa) in [(Kernel::Avx512, Isa::Avx512), (Kernel::Avx2, Isa::Avx2)] {
            if crate::isa::detected() < isa {
                continue;
            }
            let widths: &[usize] = if kernel == Kernel::Avx2 {
                &[16, 32, 48]
            } else {
                &[32, 64]
            };
            for &n in widths {
                for m in [1, 5, 6, 13, 28] {
                    let x: Vec<f32> = (0..30 * 3 + m).map(|_| rng.uniform() - 0.5).collect();
                    let w: Vec<f32> = (0..taps.len() * n).map(|_| rng.uniform() - 0.5).collect();
                    let bias: Vec<f32> = (0..n).map(|_| rng.uniform() - 0.5).collect();
                    let patches: Vec<f32> = (0..m)
                        .flat_map(|i| taps.iter().map(move |&t| (i, t)))
                        .map(|(i, t)| x[i + t])
                        .collect();
                    let a = MatRef::row_major(&patches, m, taps.len());
                    let b = MatRef::row_major(&w, taps.len(), n);
                    let want: Vec<f32> = naive(&a, &b)
                        .iter()
                        .enumerate()
                        .map(|(e, v)| crate::elementwise::relu_value(v + bias[e % n]))
                        .collect();
                    let mut c = vec![f32::NAN; m * n];
                    let epilogue = Epilogue {
                        bias: Some(&bias),
                        relu: true,
                    };
                    let c_view = MatMut::row_major(&mut c, m, n);
                    gemm(kernel, &x, m, 1, Taps(&taps), b, c_view, epilogue);
                    assert_eq!(c, want, "{kernel:?}, {m} x {n}");
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
