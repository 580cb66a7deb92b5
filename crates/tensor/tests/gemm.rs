//! GEMM against a naive triple loop, for A·B, A·Bᵀ and Aᵀ·B, on one thread and split between two.
//! Inputs are small whole numbers, so every product and sum is exact in f32 and results compare
//! with `==`; outputs start as NaN so a cell the GEMM forgets to write shows up.

use convlab_tensor::gemm::{gemm, MatMut, MatRef};

/// Small whole numbers in -4..=4 from a fixed sequence (a linear congruential generator).
fn ints(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 33) % 9) as f32 - 4.0
        })
        .collect()
}

/// c[i][j] = sum_p a(i, p) * b(p, j), with a and b given as index functions.
fn naive(
    m: usize,
    k: usize,
    n: usize,
    a: impl Fn(usize, usize) -> f32,
    b: impl Fn(usize, usize) -> f32,
) -> Vec<f32> {
    let mut c = vec![0.0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            for p in 0..k {
                c[i * n + j] += a(i, p) * b(p, j);
            }
        }
    }
    c
}

#[derive(Clone, Copy, Debug)]
enum Variant {
    AB,
    ABt,
    AtB,
}

/// Runs one variant of m x k times k x n and compares with the naive loop.
fn check(variant: Variant, m: usize, k: usize, n: usize) {
    let a_store = ints(m * k, 1 + m as u64);
    let b_store = ints(k * n, 2 + n as u64);
    // Store A as m x k (or k x m for Aᵀ·B) and B as k x n (or n x k for A·Bᵀ), row-major.
    let (a, a_at): (MatRef, Box<dyn Fn(usize, usize) -> f32>) = match variant {
        Variant::AtB => (
            MatRef::row_major(&a_store, k, m).t(),
            Box::new(|i, p| a_store[p * m + i]),
        ),
        _ => (
            MatRef::row_major(&a_store, m, k),
            Box::new(|i, p| a_store[i * k + p]),
        ),
    };
    let (b, b_at): (MatRef, Box<dyn Fn(usize, usize) -> f32>) = match variant {
        Variant::ABt => (
            MatRef::row_major(&b_store, n, k).t(),
            Box::new(|p, j| b_store[j * k + p]),
        ),
        _ => (
            MatRef::row_major(&b_store, k, n),
            Box::new(|p, j| b_store[p * n + j]),
        ),
    };
    let want = naive(m, k, n, a_at, b_at);
    let mut c = vec![f32::NAN; m * n];
    gemm(1.0, a, b, 0.0, MatMut::row_major(&mut c, m, n));
    assert_eq!(c, want, "{variant:?} {m}x{k}x{n}");
}

const SHAPES: &[(usize, usize, usize)] = &[
    (1, 1, 1),
    (3, 5, 7),
    (17, 1, 9),
    (64, 64, 64),
    (33, 129, 65),
    // Large enough to be split between threads: by rows of C, along K (few rows, long K, also
    // with 32..64 rows, which a row split would take), and by columns (few rows, many columns).
    (600, 60, 40),
    (8, 20_000, 8),
    (40, 600, 50),
    (20, 40, 1_500),
];

#[test]
fn every_variant_matches_naive_on_one_thread() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    pool.install(|| {
        for &(m, k, n) in SHAPES {
            for v in [Variant::AB, Variant::ABt, Variant::AtB] {
                check(v, m, k, n);
            }
        }
    });
}

#[test]
fn every_variant_matches_naive_on_two_threads() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    pool.install(|| {
        for &(m, k, n) in SHAPES {
            for v in [Variant::AB, Variant::ABt, Variant::AtB] {
                check(v, m, k, n);
            }
        }
    });
}

/// C = alpha·A·B + beta·C into a C of 1.0s whose rows have `pad` padding columns of NaN after
/// its n: every element must be exact (small integers) and the padding untouched.
fn check_padded(m: usize, k: usize, n: usize, alpha: f32, beta: f32, pad: usize, seed: u64) {
    let a = ints(m * k, seed);
    let b = ints(k * n, seed + 1);
    let ab = naive(m, k, n, |i, p| a[i * k + p], |p, j| b[p * n + j]);
    let stride = n + pad;
    let mut c = vec![f32::NAN; m * stride];
    for i in 0..m {
        c[i * stride..i * stride + n].fill(1.0);
    }
    let out = MatMut {
        data: &mut c,
        rows: m,
        cols: n,
        row_stride: stride,
    };
    gemm(
        alpha,
        MatRef::row_major(&a, m, k),
        MatRef::row_major(&b, k, n),
        beta,
        out,
    );
    for i in 0..m {
        for j in 0..n {
            let want = alpha * ab[i * n + j] + beta;
            assert_eq!(c[i * stride + j], want, "{m}x{k}x{n}: ({i}, {j})");
        }
        assert!(
            c[i * stride + n..(i + 1) * stride]
                .iter()
                .all(|v| v.is_nan()),
            "{m}x{k}x{n}: row {i}'s padding was written"
        );
    }
}

fn on_threads(threads: usize, run: impl FnOnce() + Send) {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(run);
}

#[test]
fn alpha_beta_and_padded_rows_of_c() {
    for threads in [1, 2] {
        on_threads(threads, || {
            // Shapes on both sides of the parallel thresholds (split rows, split K).
            for (m, k, n) in [(4, 3, 5), (600, 60, 40), (8, 20_000, 8)] {
                check_padded(m, k, n, 2.0, 3.0, 2, 7);
            }
        });
    }
}

#[test]
fn column_blocks_write_only_their_columns() {
    for threads in [1, 2, 3] {
        // Few rows and many columns: split by columns on 2 or more threads (with alpha 1);
        // beta = 1 adds onto C's 1.0s.
        on_threads(threads, || check_padded(5, 200, 1_100, 1.0, 1.0, 3, 9));
    }
}

#[test]
fn empty_shared_dimension_gives_zero() {
    let mut c = vec![f32::NAN; 6];
    gemm(
        1.0,
        MatRef::row_major(&[], 2, 0),
        MatRef::row_major(&[], 0, 3),
        0.0,
        MatMut::row_major(&mut c, 2, 3),
    );
    assert_eq!(c, vec![0.0; 6]);
}

#[test]
#[should_panic(expected = "gemm: operand A (2 x 3, strides 3 / 1) does not fit its 5 values")]
fn too_short_operand_panics_before_unsafe() {
    let mut c = vec![0.0; 4];
    gemm(
        1.0,
        MatRef::row_major(&[0.0; 5], 2, 3),
        MatRef::row_major(&[0.0; 6], 3, 2),
        0.0,
        MatMut::row_major(&mut c, 2, 2),
    );
}

#[test]
#[should_panic(expected = "gemm: shapes do not chain: A 2 x 3, B 2 x 2, C 2 x 2")]
fn mismatched_shapes_panic() {
    let mut c = vec![0.0; 4];
    gemm(
        1.0,
        MatRef::row_major(&[0.0; 6], 2, 3),
        MatRef::row_major(&[0.0; 4], 2, 2),
        0.0,
        MatMut::row_major(&mut c, 2, 2),
    );
}

#[test]
#[should_panic(expected = "gemm: output C (2 x 3, row stride 3) does not fit its 5 values")]
fn too_short_output_panics() {
    let mut c = vec![0.0; 5];
    gemm(
        1.0,
        MatRef::row_major(&[0.0; 4], 2, 2),
        MatRef::row_major(&[0.0; 6], 2, 3),
        0.0,
        MatMut::row_major(&mut c, 2, 3),
    );
}

#[test]
fn results_are_the_same_bits_on_any_number_of_threads() {
    // Random (not whole-number) values, so that a different order of summation would show.
    let run = |threads: usize, m: usize, k: usize, n: usize| {
        let mut rng = convlab_tensor::rng::Rng::new(3);
        let a: Vec<f32> = (0..m * k).map(|_| rng.uniform_range(-1.0, 1.0)).collect();
        let b: Vec<f32> = (0..k * n).map(|_| rng.uniform_range(-1.0, 1.0)).collect();
        let mut c = vec![f32::NAN; m * n];
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            gemm(
                1.0,
                MatRef::row_major(&a, m, k),
                MatRef::row_major(&b, k, n),
                0.0,
                MatMut::row_major(&mut c, m, n),
            )
        });
        c
    };
    // Row split (600 rows), K split (8 rows, K = 20,000), the dense layer's shape at batch 32
    // (K split) and its input gradient's (column split).
    for (m, k, n) in [
        (600, 60, 40),
        (8, 20_000, 8),
        (32, 3136, 100),
        (32, 100, 3136),
    ] {
        let one = run(1, m, k, n);
        for threads in [2, 3, 4] {
            assert_eq!(
                one,
                run(threads, m, k, n),
                "{m}x{k}x{n} on {threads} threads"
            );
        }
    }
}
