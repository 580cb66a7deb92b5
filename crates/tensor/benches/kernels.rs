//! Kernel benchmarks: GEMM (ours against matrixmultiply called directly), convolution (im2col
//! against direct) at the chapter's shapes, and pooling at the chapter's and LeNet-5's. Throughput is reported in FLOP (2 per multiply-add),
//! so criterion's "elem/s" reads as FLOP/s.
//!
//!     cargo bench -p convlab-tensor --bench kernels
//!     RAYON_NUM_THREADS=1 cargo bench -p convlab-tensor --bench kernels -- gemm
//!
//! Before timing, each convolution shape checks that direct and Winograd agree with im2col.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use convlab_tensor::conv2d::{conv2d_backward, conv2d_forward};
use convlab_tensor::gemm::{gemm, gemm_serial, MatMut, MatRef};
use convlab_tensor::pool2d::{
    avg_pool2d_backward, avg_pool2d_forward, max_pool2d_backward, max_pool2d_forward,
};
use convlab_tensor::{Conv2dGeometry, ConvAlgorithm, Padding, Pool2dGeometry, Tensor};

fn values(len: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        })
        .collect()
}

/// m x k times k x n, and how the operands are laid out (A·B, A·Bᵀ or Aᵀ·B).
struct GemmCase {
    name: &'static str,
    m: usize,
    k: usize,
    n: usize,
    a_transposed: bool,
    b_transposed: bool,
}

fn gemm_cases() -> Vec<GemmCase> {
    let square = |s, name| GemmCase {
        name,
        m: s,
        k: s,
        n: s,
        a_transposed: false,
        b_transposed: false,
    };
    let mut cases = vec![
        square(64, "square 64"),
        square(256, "square 256"),
        square(512, "square 512"),
        square(1024, "square 1024"),
    ];
    // The chapter's GEMMs at batch 32 (M = 32 * 28 * 28 for conv1, 32 * 14 * 14 for conv2).
    let chapter = [
        ("conv1 fwd P·W", 25_088, 9, 32, false, false),
        ("conv2 fwd P·W", 6_272, 288, 64, false, false),
        ("conv2 dW = Pᵀ·dY", 288, 6_272, 64, true, false),
        ("conv2 dP = dY·Wᵀ", 6_272, 64, 288, false, true),
        ("dense fwd x·W", 32, 3_136, 100, false, false),
        ("dense dW = xᵀ·dY", 3_136, 32, 100, true, false),
        ("dense dx = dY·Wᵀ", 32, 100, 3_136, false, true),
    ];
    for (name, m, k, n, at, bt) in chapter {
        cases.push(GemmCase {
            name,
            m,
            k,
            n,
            a_transposed: at,
            b_transposed: bt,
        });
    }
    cases
}

fn bench_gemm(c: &mut Criterion) {
    let mut group = c.benchmark_group("gemm");
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(2));
    for case in gemm_cases() {
        let (m, k, n) = (case.m, case.k, case.n);
        let a = values(m * k, 1);
        let b = values(k * n, 2);
        let mut out = vec![0.0f32; m * n];
        // A stored as k x m when transposed, B as n x k.
        let a_view = if case.a_transposed {
            MatRef::row_major(&a, k, m).t()
        } else {
            MatRef::row_major(&a, m, k)
        };
        let b_view = if case.b_transposed {
            MatRef::row_major(&b, n, k).t()
        } else {
            MatRef::row_major(&b, k, n)
        };
        group.throughput(Throughput::Elements(2 * (m * k * n) as u64));
        group.bench_function(BenchmarkId::new("convlab gemm", case.name), |bench| {
            bench.iter(|| gemm(1.0, a_view, b_view, 0.0, MatMut::row_major(&mut out, m, n)))
        });
        group.bench_function(
            BenchmarkId::new("convlab gemm 1 thread", case.name),
            |bench| {
                bench.iter(|| {
                    gemm_serial(1.0, a_view, b_view, 0.0, MatMut::row_major(&mut out, m, n))
                })
            },
        );
        group.bench_function(BenchmarkId::new("matrixmultiply", case.name), |bench| {
            bench.iter(|| {
                // SAFETY: the views above were built from slices of exactly these sizes, with
                // in-bounds strides (the same operands the checked wrapper accepts), and `out`
                // is m x n row-major.
                unsafe {
                    matrixmultiply::sgemm(
                        m,
                        k,
                        n,
                        1.0,
                        a_view.data.as_ptr(),
                        a_view.row_stride as isize,
                        a_view.col_stride as isize,
                        b_view.data.as_ptr(),
                        b_view.row_stride as isize,
                        b_view.col_stride as isize,
                        0.0,
                        out.as_mut_ptr(),
                        n as isize,
                        1,
                    )
                }
            })
        });
    }
    group.finish();
}

/// The chapter's two convolutions: 28x28x1 -> 32 and 14x14x32 -> 64, 3x3, same.
fn conv_layers() -> [(&'static str, [usize; 3], usize); 2] {
    [("conv1", [28, 28, 1], 32), ("conv2", [14, 14, 32], 64)]
}

fn assert_algorithms_agree(g: &Conv2dGeometry, x: &Tensor, w: &Tensor, dy: &Tensor) {
    for other in [ConvAlgorithm::Direct, ConvAlgorithm::Winograd] {
        assert_pair_agrees(g, x, w, dy, other);
    }
}

fn assert_pair_agrees(
    g: &Conv2dGeometry,
    x: &Tensor,
    w: &Tensor,
    dy: &Tensor,
    other: ConvAlgorithm,
) {
    let a = conv2d_forward(g, x, w, None, ConvAlgorithm::Im2col);
    let b = conv2d_forward(g, x, w, None, other);
    let ga = conv2d_backward(g, x, w, dy, ConvAlgorithm::Im2col, true);
    let gb = conv2d_backward(g, x, w, dy, other, true);
    let (ga_dx, gb_dx) = (ga.dx.expect("asked for dx"), gb.dx.expect("asked for dx"));
    for (what, p, q) in [
        ("y", &a, &b),
        ("dx", &ga_dx, &gb_dx),
        ("dw", &ga.dw, &gb.dw),
    ] {
        let worst = p
            .data()
            .iter()
            .zip(q.data())
            .map(|(u, v)| (u - v).abs())
            .fold(0.0f32, f32::max);
        assert!(
            worst <= 1e-4 * p.max_abs().max(1e-3),
            "{what}: im2col and {other:?} differ by {worst} on {g:?}"
        );
    }
}

fn bench_conv(c: &mut Criterion) {
    let mut group = c.benchmark_group("conv2d");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    for (name, [h, w, cin], cout) in conv_layers() {
        for batch in [1, 32, 256] {
            let g = Conv2dGeometry::new(
                &[batch, h, w, cin],
                &[3, 3, cin, cout],
                (1, 1),
                Padding::Same,
            )
            .unwrap();
            let x = Tensor::new(&g.x_shape(), values(batch * h * w * cin, 3)).unwrap();
            let k = Tensor::new(&g.w_shape(), values(9 * cin * cout, 4)).unwrap();
            let dy = Tensor::new(&g.y_shape(), values(g.n * g.ho * g.wo * cout, 5)).unwrap();
            assert_algorithms_agree(&g, &x, &k, &dy);
            let flops = 2 * g.forward_fmas();
            for algorithm in [
                ConvAlgorithm::Im2col,
                ConvAlgorithm::Direct,
                ConvAlgorithm::Winograd,
            ] {
                let id = format!("{name} b{batch} {algorithm:?}");
                group.throughput(Throughput::Elements(flops));
                group.bench_function(BenchmarkId::new("forward", &id), |bench| {
                    bench.iter(|| conv2d_forward(&g, &x, &k, None, algorithm))
                });
                // Forward + backward: 3x the forward's FLOP (y, dx and dw products).
                group.throughput(Throughput::Elements(3 * flops));
                group.bench_function(BenchmarkId::new("forward+backward", &id), |bench| {
                    bench.iter(|| {
                        let y = conv2d_forward(&g, &x, &k, None, algorithm);
                        let grads = conv2d_backward(&g, &x, &k, &dy, algorithm, true);
                        (y, grads)
                    })
                });
            }
        }
    }
    group.finish();
}

/// 2x2 pooling at stride 2 of the pooled layers' outputs at batch 32: the chapter's conv1
/// (28x28x32), LeNet-5's conv1 (28x28x6) and conv2 (10x10x16). Throughput in input values.
fn bench_pool(c: &mut Criterion) {
    let mut group = c.benchmark_group("pool2d");
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(2));
    for (name, [h, w, ch]) in [
        ("chapter conv1", [28, 28, 32]),
        ("lenet5 conv1", [28, 28, 6]),
        ("lenet5 conv2", [10, 10, 16]),
    ] {
        let g = Pool2dGeometry::new(&[32, h, w, ch], (2, 2), (2, 2), Padding::Valid).unwrap();
        let x = Tensor::new(&g.x_shape(), values(32 * h * w * ch, 6)).unwrap();
        let dy = Tensor::new(&g.y_shape(), values(g.y_shape().iter().product(), 7)).unwrap();
        group.throughput(Throughput::Elements(x.len() as u64));
        group.bench_function(BenchmarkId::new("avg forward", name), |bench| {
            bench.iter(|| avg_pool2d_forward(&g, &x))
        });
        group.bench_function(BenchmarkId::new("avg backward", name), |bench| {
            bench.iter(|| avg_pool2d_backward(&g, &dy))
        });
        let argmax = max_pool2d_forward(&g, &x).argmax;
        group.bench_function(BenchmarkId::new("max forward", name), |bench| {
            bench.iter(|| max_pool2d_forward(&g, &x))
        });
        group.bench_function(BenchmarkId::new("max backward", name), |bench| {
            bench.iter(|| max_pool2d_backward(&g, &argmax, &dy))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_gemm, bench_conv, bench_pool);
criterion_main!(benches);
