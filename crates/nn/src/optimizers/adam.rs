//! Adam (Kingma & Ba, <https://arxiv.org/abs/1412.6980>), written as Keras 3 computes it:
//! ```text
//! t += 1
//! alpha = lr * sqrt(1 - beta2^t) / (1 - beta1^t)     (bias correction folded into the step)
//! m += (g - m) * (1 - beta1)
//! v += (g² - v) * (1 - beta2)
//! w -= alpha * m / (sqrt(v) + epsilon)
//! ```
//! Keras's defaults: lr 1e-3, beta1 0.9, beta2 0.999, epsilon 1e-7 (PyTorch's is 1e-8).

use convlab_tensor::Tensor;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::zeros_like;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Adam {
    pub learning_rate: f32,
    pub beta_1: f32,
    pub beta_2: f32,
    pub epsilon: f32,
    /// Steps taken so far.
    pub iterations: u64,
    /// First and second moments, one per weight (empty until the first step; saved apart from
    /// the hyper-parameters, as tensors).
    #[serde(skip)]
    pub m: Vec<Tensor>,
    #[serde(skip)]
    pub v: Vec<Tensor>,
}

impl Default for Adam {
    fn default() -> Self {
        Adam::new(1e-3)
    }
}

impl Adam {
    pub fn new(learning_rate: f32) -> Self {
        Adam {
            learning_rate,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
            iterations: 0,
            m: Vec::new(),
            v: Vec::new(),
        }
    }

    pub(super) fn step(&mut self, weights: &mut [&mut Tensor], grads: &[&Tensor]) {
        if self.m.len() != weights.len() || self.v.len() != weights.len() {
            self.m = zeros_like(weights);
            self.v = zeros_like(weights);
        }
        self.iterations += 1;
        let t = self.iterations as i32;
        // In f64: beta2^t for t in the tens of thousands loses digits in f32.
        let (b1, b2) = (self.beta_1 as f64, self.beta_2 as f64);
        let alpha =
            (self.learning_rate as f64 * (1.0 - b2.powi(t)).sqrt() / (1.0 - b1.powi(t))) as f32;
        let (b1, b2, eps) = (self.beta_1, self.beta_2, self.epsilon);
        for (((w, g), m), v) in weights
            .iter_mut()
            .zip(grads)
            .zip(&mut self.m)
            .zip(&mut self.v)
        {
            // Chunks of 16K values split between threads: the update is elementwise.
            const CHUNK: usize = 1 << 14;
            w.data_mut()
                .par_chunks_mut(CHUNK)
                .zip(g.data().par_chunks(CHUNK))
                .zip(m.data_mut().par_chunks_mut(CHUNK))
                .zip(v.data_mut().par_chunks_mut(CHUNK))
                .for_each(|(((w, g), m), v)| update(w, g, m, v, Hyper { alpha, b1, b2, eps }));
        }
    }
}

/// The step's constants: the bias-corrected step size and Adam's three hyper-parameters.
#[derive(Clone, Copy)]
struct Hyper {
    alpha: f32,
    b1: f32,
    b2: f32,
    eps: f32,
}

/// Adam's update of one chunk of a weight (`w`, its gradient `g`, its moments `m` and `v`).
///
/// The loop is elementwise and the compiler vectorises it, but only as wide as the build's
/// target allows: 4 lanes (SSE2) in the default x86-64 build, where the square roots and the
/// divisions of the chapter's 333K weights took 0.87 ms a step on a 2-vCPU AMD EPYC without
/// AVX-512 (Zen 1, 72 GFLOP/s FMA peak; weights in cache). So it is compiled again with AVX2
/// (8 lanes: 0.41 ms there) and with AVX-512F (16 lanes), and the widest copy the CPU has runs
/// (`isa::active`), as `gemm::axpy` does. Every operation is IEEE-rounded per element (Rust
/// never fuses the multiply and add here), so all three copies give the same bits.
#[inline]
fn update(w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], h: Hyper) {
    #[cfg(target_arch = "x86_64")]
    {
        use convlab_tensor::isa::{active, Isa};
        match active() {
            // SAFETY: `isa` found the features on this CPU; the copies touch only the slices.
            Isa::Avx512 => return unsafe { update_avx512(w, g, m, v, h) },
            Isa::Avx2 => return unsafe { update_avx2(w, g, m, v, h) },
            Isa::Baseline => {}
        }
    }
    update_portable(w, g, m, v, h)
}

#[inline(always)]
fn update_portable(w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], h: Hyper) {
    let Hyper { alpha, b1, b2, eps } = h;
    for (((w, &g), m), v) in w.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        *m = flush_subnormal(*m + (g - *m) * (1.0 - b1));
        *v = flush_subnormal(*v + (g * g - *v) * (1.0 - b2));
        *w -= alpha * *m / (v.sqrt() + eps);
    }
}

/// # Safety
/// The CPU has AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn update_avx2(w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], h: Hyper) {
    update_portable(w, g, m, v, h)
}

/// # Safety
/// The CPU has AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn update_avx512(w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], h: Hyper) {
    update_portable(w, g, m, v, h)
}

/// `x`, or 0 if it is subnormal (below f32::MIN_POSITIVE in magnitude).
///
/// A weight whose gradient stays 0 (a dead ReLU unit, an always-black pixel) has its first moment
/// multiplied by beta_1 = 0.9 every step, so within a few hundred steps it is subnormal, and x86
/// CPUs do arithmetic on subnormals through a microcode assist that is ~100x slower (it showed as
/// 13% of an epoch's profile, docs/PERFORMANCE.md). TensorFlow avoids this by running with the CPU's
/// flush-to-zero mode; this does the same for the two moments, without touching the CPU's
/// control register. The weight changes such a moment would make are below 1e-30.
#[inline(always)]
fn flush_subnormal(x: f32) -> f32 {
    if x.abs() < f32::MIN_POSITIVE {
        0.0
    } else {
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_steps_match_a_hand_computation() {
        // One weight w = 1 with gradient g = 0.5, twice.
        // Step 1: m = 0.05, v = 0.00025, alpha = 1e-3 * sqrt(0.001) / 0.1 = 3.1623e-4,
        //         w = 1 - alpha * 0.05 / (0.0158114 + 1e-7) = 1 - 0.001 (= lr: Adam's first step
        //         is lr * sign(g)).
        let mut adam = Adam::default();
        let mut w = Tensor::full(&[1], 1.0);
        let g = Tensor::full(&[1], 0.5);
        adam.step(&mut [&mut w], &[&g]);
        assert!((w.data()[0] - 0.999).abs() < 1e-6, "{}", w.data()[0]);
        // Step 2 with the same gradient moves by lr again (m/sqrt(v) stays 1 after correction).
        adam.step(&mut [&mut w], &[&g]);
        assert!((w.data()[0] - 0.998).abs() < 1e-6, "{}", w.data()[0]);
        assert_eq!(adam.iterations, 2);
    }

    #[test]
    fn every_vector_copy_of_the_update_gives_the_portable_loops_bits() {
        // 1000 values (not a multiple of any vector width) of every size, with gradients that
        // push the moments subnormal, so the flush and the tails run in each copy.
        let n: usize = 1000;
        let w0: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
        let g: Vec<f32> = (0..n)
            .map(|i| (i as f32 * 0.11).cos() * 10f32.powi(-(i as i32 % 45)))
            .collect();
        let m0: Vec<f32> = (0..n).map(|i| 1e-38 * (i as f32 * 0.7).sin()).collect();
        let v0: Vec<f32> = (0..n)
            .map(|i| (i as f32 * 0.3).cos().abs() * 1e-3)
            .collect();
        let h = Hyper {
            alpha: 3.1e-4,
            b1: 0.9,
            b2: 0.999,
            eps: 1e-7,
        };
        type Update<'a> = dyn Fn(&mut [f32], &mut [f32], &mut [f32]) + 'a;
        let run = |copy: &Update<'_>| {
            let (mut w, mut m, mut v) = (w0.clone(), m0.clone(), v0.clone());
            copy(&mut w, &mut m, &mut v);
            [w, m, v].map(|x| x.iter().map(|f| f.to_bits()).collect::<Vec<_>>())
        };
        let want = run(&|w, m, v| update_portable(w, &g, m, v, h));
        assert_eq!(run(&|w, m, v| update(w, &g, m, v, h)), want);
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2.
                assert_eq!(run(&|w, m, v| unsafe { update_avx2(w, &g, m, v, h) }), want);
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F.
                assert_eq!(
                    run(&|w, m, v| unsafe { update_avx512(w, &g, m, v, h) }),
                    want
                );
            }
        }
    }

    #[test]
    fn moments_of_a_weight_without_gradient_flush_to_zero_instead_of_going_subnormal() {
        // One gradient of 1, then zeros: m shrinks by 0.9 a step and would pass below
        // f32::MIN_POSITIVE (1.2e-38) after ~830 steps and stay subnormal for ~60 more.
        let mut adam = Adam::default();
        let mut w = Tensor::full(&[1], 0.0);
        adam.step(&mut [&mut w], &[&Tensor::full(&[1], 1.0)]);
        for _ in 0..900 {
            adam.step(&mut [&mut w], &[&Tensor::full(&[1], 0.0)]);
            let m = adam.m[0].data()[0];
            assert!(m == 0.0 || m.is_normal(), "m = {m:e} is subnormal");
        }
        assert_eq!(adam.m[0].data()[0], 0.0);
    }
}
