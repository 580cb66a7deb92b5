//! This machine's peak rate of fused multiply-adds, measured: the number every GFLOP/s figure in
//! `convlab bench` is a share of.
//!
//! A kernel reaches the peak only if every cycle issues as many FMAs as the core has FMA units,
//! and an FMA's result is ready only some cycles later (4 on recent x86 cores). So the loop keeps
//! many independent accumulators (16 vector registers on AVX-512, 12 on AVX2: more than units x
//! latency) and does nothing else: `acc = acc * a + b` with `a` just below 1, so the values stay
//! normal numbers forever. Each thread runs its own copy; FLOP are counted as 2 per lane of each
//! FMA, the convention of every GFLOP/s figure in convlab.
//!
//! The vector width is the active one (`isa::active()`, so `CONVLAB_MAX_ISA` caps it too):
//! AVX-512 16 lanes, AVX2 8; the portable loop (no FMA instruction) counts a multiply and an
//! add as 2 FLOP.

use std::time::{Duration, Instant};

use crate::isa::{self, Isa};

/// One measurement: GFLOP/s on `threads` threads with `isa`'s instructions.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Peak {
    pub threads: usize,
    pub isa: Isa,
    pub gflops: f64,
}

/// Iterations of the inner loop per timed call: long enough to dwarf the timer, short enough to
/// repeat (about 10 ms at 100 GFLOP/s per thread).
const ITERATIONS: u64 = 1 << 17;

/// FLOP one iteration does with `isa`.
fn flop_per_iteration(isa: Isa) -> f64 {
    match isa {
        Isa::Avx512 => (16 * 16 * 2) as f64,
        Isa::Avx2 => (12 * 8 * 2) as f64,
        Isa::Baseline => (8 * 2) as f64,
    }
}

/// Runs the loop `iterations` times on this thread; the result only keeps it from being removed.
fn run(isa: Isa, iterations: u64) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if isa == Isa::Avx512 && isa::avx512() {
            // SAFETY: `isa` found AVX-512F on this CPU; the loop touches only registers.
            return unsafe { x86::avx512(iterations) };
        }
        if isa >= Isa::Avx2 && isa::active() >= Isa::Avx2 {
            // SAFETY: `isa` found AVX2 and FMA on this CPU.
            return unsafe { x86::avx2(iterations) };
        }
    }
    portable(iterations)
}

/// The loop without vector instructions: eight independent chains of a multiply and an add.
fn portable(iterations: u64) -> f32 {
    let mut acc = [1.0f32; 8];
    let (a, b) = (
        std::hint::black_box(0.999_99f32),
        std::hint::black_box(1e-5f32),
    );
    for _ in 0..iterations {
        for v in &mut acc {
            *v = *v * a + b;
        }
    }
    acc.iter().sum()
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// # Safety
    /// The CPU has AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn avx512(iterations: u64) -> f32 {
        let a = _mm512_set1_ps(std::hint::black_box(0.999_99));
        let b = _mm512_set1_ps(std::hint::black_box(1e-5));
        let mut acc = [_mm512_set1_ps(1.0); 16];
        for _ in 0..iterations {
            for v in &mut acc {
                *v = _mm512_fmadd_ps(*v, a, b);
            }
        }
        let mut sum = _mm512_setzero_ps();
        for v in acc {
            sum = _mm512_add_ps(sum, v);
        }
        _mm512_reduce_add_ps(sum)
    }

    /// # Safety
    /// The CPU has AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn avx2(iterations: u64) -> f32 {
        let a = _mm256_set1_ps(std::hint::black_box(0.999_99));
        let b = _mm256_set1_ps(std::hint::black_box(1e-5));
        let mut acc = [_mm256_set1_ps(1.0); 12];
        for _ in 0..iterations {
            for v in &mut acc {
                *v = _mm256_fmadd_ps(*v, a, b);
            }
        }
        let mut sum = _mm256_setzero_ps();
        for v in acc {
            sum = _mm256_add_ps(sum, v);
        }
        let mut lanes = [0f32; 8];
        _mm256_storeu_ps(lanes.as_mut_ptr(), sum);
        lanes.iter().sum()
    }
}

/// The peak on `threads` threads (each its own OS thread, started together), the median of
/// `repeats` runs of at least `min_time` each.
pub fn measure(threads: usize, repeats: usize, min_time: Duration) -> Peak {
    let isa = isa::active();
    let threads = threads.max(1);
    let mut rates = Vec::with_capacity(repeats.max(1));
    for _ in 0..repeats.max(1) {
        let barrier = std::sync::Barrier::new(threads + 1);
        let (flop, seconds) = std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        let started = Instant::now();
                        let mut calls = 0u64;
                        while calls == 0 || started.elapsed() < min_time {
                            std::hint::black_box(run(isa, ITERATIONS));
                            calls += 1;
                        }
                        (calls, started.elapsed())
                    })
                })
                .collect();
            barrier.wait();
            let results: Vec<(u64, Duration)> =
                workers.into_iter().map(|w| w.join().unwrap()).collect();
            let calls: u64 = results.iter().map(|r| r.0).sum();
            let longest = results.iter().map(|r| r.1).max().unwrap_or_default();
            (
                calls as f64 * ITERATIONS as f64 * flop_per_iteration(isa),
                longest.as_secs_f64(),
            )
        });
        rates.push(flop / seconds / 1e9);
    }
    rates.sort_by(f64::total_cmp);
    Peak {
        threads,
        isa,
        gflops: rates[rates.len() / 2],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_loop_computes_the_same_recurrence() {
        // acc -> acc * a + b converges to b / (1 - a) = 1: the loops agree and stay finite.
        let p = portable(100_000);
        assert!((p / 8.0 - 1.0).abs() < 1e-3, "{p}");
        #[cfg(target_arch = "x86_64")]
        {
            if isa::active() >= Isa::Avx2 {
                let v = unsafe { x86::avx2(100_000) };
                assert!((v / 96.0 - 1.0).abs() < 1e-3, "{v}");
            }
            if isa::avx512() {
                let v = unsafe { x86::avx512(100_000) };
                assert!((v / 256.0 - 1.0).abs() < 1e-3, "{v}");
            }
        }
    }

    #[test]
    fn a_measurement_is_a_positive_rate() {
        let p = measure(1, 1, Duration::from_millis(1));
        assert!(p.gflops > 0.0 && p.gflops.is_finite(), "{p:?}");
        assert_eq!(p.threads, 1);
    }
}
