//! Numerical gradient checking by central finite differences.
//!
//! The function under test maps some input tensors to an output y of any shape. We reduce y with
//! a fixed random projection, L = sum(r * y) (as llm.c does), so every element of the upstream
//! gradient dy = r matters and a backward that mixes up positions cannot hide behind symmetric
//! sums. L is accumulated in f64, so the only f32 rounding left is in y itself.
//!
//! For each input element x_j: numeric = (L(x_j + h) - L(x_j - h)) / 2h, compared with the
//! analytic gradient from the tape. An element passes when |analytic - numeric| <= atol + rtol *
//! |numeric|; the report names, per input, the element that came closest to failing.
//!
//! Choosing h: the numeric error is about h² * L''' (truncation) plus eps_f32 * |y| / h (rounding).
//! Linear ops (matmul, conv, sums, pooling away from ties) have no truncation error, so a large
//! h (1e-1 .. 1) makes them sharp; smooth nonlinear ops want h ≈ 1e-2; ops with kinks (relu, max
//! pooling) need inputs kept further than h from the kink.

use convlab_tensor::Tensor;

use crate::{Tape, Var};

#[derive(Clone, Copy, Debug)]
pub struct GradcheckOptions {
    /// Finite-difference step h.
    pub step: f32,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance (times |numeric|).
    pub rtol: f64,
    /// Seed of the projection r.
    pub seed: u64,
    /// If set, an input passes when its norm-wise relative error is at most this, instead of
    /// every element passing. For whole networks in f32: a step small enough to be accurate
    /// still crosses a few ReLU and max-pool kinks somewhere, which spoils single elements but
    /// not the norm, while a wrong backward spoils both.
    pub norm_tolerance: Option<f64>,
    /// If set, an element whose one-sided slopes (L(x+h) - L(x)) / h and (L(x) - L(x-h)) / h
    /// differ by more than this (or, when elements are judged one by one, differ from the
    /// slopes over half a step) is *skipped* (counted in the report), not judged: the step
    /// crossed a kink (a ReLU changing sides, a max-pool window changing its winner), where a
    /// finite difference says nothing about the derivative at x. Smooth elements are still
    /// judged one by one, so a wrong backward still fails.
    pub kink_tolerance: Option<f64>,
}

impl Default for GradcheckOptions {
    fn default() -> Self {
        GradcheckOptions {
            step: 1e-2,
            atol: 1e-3,
            rtol: 1e-2,
            seed: 0,
            norm_tolerance: None,
            kink_tolerance: None,
        }
    }
}

/// The worst element of one input.
#[derive(Clone, Debug)]
pub struct InputReport {
    pub shape: Vec<usize>,
    /// Flat index of the element closest to (or furthest past) the tolerance.
    pub worst_index: usize,
    pub analytic: f64,
    pub numeric: f64,
    pub abs_error: f64,
    /// |analytic - numeric| / max(|analytic|, |numeric|) at that element (0 if both are 0).
    pub rel_error: f64,
    /// Elements checked, and how many were outside the tolerance.
    pub elements: usize,
    pub failed: usize,
    /// Elements skipped because the step crossed a kink (see `kink_tolerance`).
    pub skipped: usize,
    /// ||analytic - numeric|| / max(||analytic||, ||numeric||) over the whole input (Euclidean
    /// norms): a wrong backward moves this to order 1, a few kinks crossed by a step barely do.
    pub norm_rel_error: f64,
    pub passed: bool,
}

#[derive(Clone, Debug)]
pub struct GradcheckReport {
    pub inputs: Vec<InputReport>,
}

impl GradcheckReport {
    pub fn passed(&self) -> bool {
        self.inputs.iter().all(|r| r.passed)
    }

    pub fn max_abs_error(&self) -> f64 {
        self.inputs.iter().map(|r| r.abs_error).fold(0.0, f64::max)
    }

    pub fn max_rel_error(&self) -> f64 {
        self.inputs.iter().map(|r| r.rel_error).fold(0.0, f64::max)
    }
}

impl std::fmt::Display for GradcheckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, r) in self.inputs.iter().enumerate() {
            writeln!(
                f,
                "input {i} {:?}: worst element {} analytic {:.6e} numeric {:.6e} abs {:.2e} rel {:.2e}; {}/{} outside tolerance, {} skipped at kinks; norm rel {:.2e} {}",
                r.shape,
                r.worst_index,
                r.analytic,
                r.numeric,
                r.abs_error,
                r.rel_error,
                r.failed,
                r.elements,
                r.skipped,
                r.norm_rel_error,
                if r.passed { "ok" } else { "FAIL" }
            )?;
        }
        Ok(())
    }
}

/// Uniform values in [-1, 1) from a seed (convlab's SplitMix64 `Rng`): portable and stable
/// across releases.
pub fn uniform(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = convlab_tensor::rng::Rng::new(seed);
    (0..len).map(|_| rng.uniform_range(-1.0, 1.0)).collect()
}

/// Checks the gradients of `f` w.r.t. every tensor in `inputs`.
pub fn gradcheck(
    f: impl Fn(&mut Tape, &[Var]) -> Var,
    inputs: &[Tensor],
    opts: GradcheckOptions,
) -> GradcheckReport {
    // Analytic gradients: one recorded pass, seeded with dy = r.
    let mut tape = Tape::new();
    let vars: Vec<Var> = inputs.iter().map(|t| tape.leaf(t.clone())).collect();
    let y = f(&mut tape, &vars);
    let r = Tensor::from_vec("gradcheck", y.shape(), uniform(y.value().len(), opts.seed));
    let grads = tape
        .backward_with(&y, r.clone())
        .expect("gradcheck: projection has y's shape");

    // L(inputs) = sum(r * f(inputs)) in f64, evaluated without recording.
    let loss = |inputs: &[Tensor]| -> f64 {
        let mut tape = Tape::no_grad();
        let vars: Vec<Var> = inputs.iter().map(|t| tape.constant(t.clone())).collect();
        let y = f(&mut tape, &vars);
        y.value()
            .data()
            .iter()
            .zip(r.data())
            .map(|(&y, &r)| y as f64 * r as f64)
            .sum()
    };

    let h = opts.step;
    let base = opts.kink_tolerance.map(|_| loss(inputs));
    let mut reports = Vec::new();
    for (i, var) in vars.iter().enumerate() {
        let zeros = Tensor::zeros(inputs[i].shape());
        let analytic = grads.get(var).unwrap_or(&zeros);
        let mut worst: Option<(f64, InputReport)> = None;
        let (mut failed, mut diff_sq, mut a_sq, mut n_sq) = (0usize, 0.0f64, 0.0f64, 0.0f64);
        let mut skipped = 0usize;
        let mut probe = inputs.to_vec();
        for j in 0..inputs[i].len() {
            let original = inputs[i].data()[j];
            probe[i].data_mut()[j] = original + h;
            let plus = loss(&probe);
            probe[i].data_mut()[j] = original - h;
            let minus = loss(&probe);
            probe[i].data_mut()[j] = original;
            // The step actually taken in f32 may differ from 2h by rounding: divide by it.
            let taken = (original + h) as f64 - (original - h) as f64;
            let numeric = (plus - minus) / taken;
            if let (Some(tolerance), Some(base)) = (opts.kink_tolerance, base) {
                // The slope from x to x + step, over the step actually taken in f32.
                let slope = |value: f64, step: f32| {
                    (value - base) / ((original + step) as f64 - original as f64)
                };
                let mut slope_to = |step: f32| {
                    probe[i].data_mut()[j] = original + step;
                    let value = loss(&probe);
                    probe[i].data_mut()[j] = original;
                    slope(value, step)
                };
                let up = slope(plus, h);
                let down = slope(minus, -h);
                // Two kinks crossed on opposite sides can leave `up` and `down` equal and both
                // wrong; the half steps' slopes then differ from the whole steps' (a kink at
                // distance t < h changes a slope over [0, s] by a share (s - t) / s of its
                // jump). Elements judged one by one need that sharper test; a norm-wise judgement
                // is not moved by a rare such element and saves the two evaluations.
                let crossed = (up - down).abs() > tolerance
                    || (opts.norm_tolerance.is_none()
                        && ((slope_to(h / 2.0) - up).abs() > tolerance
                            || (slope_to(-h / 2.0) - down).abs() > tolerance));
                if crossed {
                    skipped += 1;
                    continue;
                }
            }
            let a = analytic.data()[j] as f64;
            let abs_error = (a - numeric).abs();
            let allowed = opts.atol + opts.rtol * numeric.abs();
            let badness = abs_error / allowed;
            failed += usize::from(abs_error > allowed || abs_error.is_nan());
            diff_sq += abs_error * abs_error;
            a_sq += a * a;
            n_sq += numeric * numeric;
            let denom = a.abs().max(numeric.abs());
            let report = InputReport {
                shape: inputs[i].shape().to_vec(),
                worst_index: j,
                analytic: a,
                numeric,
                abs_error,
                rel_error: if denom > 0.0 { abs_error / denom } else { 0.0 },
                elements: 0,
                failed: 0,
                skipped: 0,
                norm_rel_error: 0.0,
                passed: abs_error <= allowed,
            };
            if worst
                .as_ref()
                .is_none_or(|(b, _)| badness > *b || badness.is_nan())
            {
                worst = Some((badness, report));
            }
        }
        let norm = a_sq.max(n_sq).sqrt();
        let norm_rel_error = if norm > 0.0 {
            diff_sq.sqrt() / norm
        } else {
            diff_sq.sqrt()
        };
        let passed = match opts.norm_tolerance {
            Some(tolerance) => norm_rel_error <= tolerance,
            None => failed == 0,
        };
        reports.push(InputReport {
            elements: inputs[i].len(),
            failed,
            skipped,
            norm_rel_error,
            passed,
            ..worst.map(|(_, r)| r).unwrap_or(InputReport {
                shape: inputs[i].shape().to_vec(),
                worst_index: 0,
                analytic: 0.0,
                numeric: 0.0,
                abs_error: 0.0,
                rel_error: 0.0,
                elements: 0,
                failed: 0,
                skipped: 0,
                norm_rel_error: 0.0,
                passed: true,
            })
        });
    }
    GradcheckReport { inputs: reports }
}

/// Helpers for the op tests: random tensors and a one-line assertion.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    pub fn random(shape: &[usize], seed: u64) -> Tensor {
        Tensor::from_vec("test", shape, uniform(shape.iter().product(), seed))
    }

    /// Values in [-1, 1] whose distance from 0 is at least `margin` (for relu's kink).
    pub fn away_from_zero(shape: &[usize], seed: u64, margin: f32) -> Tensor {
        let mut t = random(shape, seed);
        t.data_mut().iter_mut().for_each(|v| {
            *v = v.signum() * (margin + v.abs() * (1.0 - margin));
        });
        t
    }

    #[track_caller]
    pub fn assert_grads(
        f: impl Fn(&mut Tape, &[Var]) -> Var,
        inputs: &[Tensor],
        opts: GradcheckOptions,
    ) {
        let report = gradcheck(f, inputs, opts);
        assert!(report.passed(), "gradient check failed:\n{report}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinks_are_skipped_only_when_asked() {
        // relu at exactly 0: the step straddles the kink, one-sided slopes are 1 and 0.
        let x = [Tensor::from_vec("test", &[3], vec![0.0, 0.5, -0.5])];
        let strict = GradcheckOptions {
            step: 0.1,
            ..GradcheckOptions::default()
        };
        let report = gradcheck(|t, v| t.relu(&v[0]), &x, strict);
        assert!(
            !report.passed(),
            "the kink must fail a strict check:\n{report}"
        );
        let lenient = GradcheckOptions {
            kink_tolerance: Some(1e-3),
            ..strict
        };
        let report = gradcheck(|t, v| t.relu(&v[0]), &x, lenient);
        assert!(report.passed(), "{report}");
        assert_eq!(report.inputs[0].skipped, 1);
    }

    #[test]
    fn kinks_crossed_on_both_sides_are_skipped() {
        // y = relu(x - 0.04) - relu(-x - 0.04) at x = 0, step 0.1: both relus are dead at x, so
        // dy/dx = 0, but each step crosses one kink and the one-sided slopes are both 0.6.
        let x = [Tensor::from_vec("test", &[1, 1], vec![0.0])];
        let f = |t: &mut Tape, v: &[Var]| {
            let both = t.constant(Tensor::from_vec("test", &[1, 2], vec![1.0, -1.0]));
            let shift = t.constant(Tensor::from_vec("test", &[2], vec![-0.04, -0.04]));
            let difference = t.constant(Tensor::from_vec("test", &[2, 1], vec![1.0, -1.0]));
            let z = t.matmul(&v[0], &both);
            let z = t.add_bias(&z, &shift);
            let z = t.relu(&z);
            t.matmul(&z, &difference)
        };
        let opts = GradcheckOptions {
            step: 0.1,
            kink_tolerance: Some(1e-3),
            ..GradcheckOptions::default()
        };
        let report = gradcheck(f, &x, opts);
        assert!(report.passed(), "{report}");
        assert_eq!(report.inputs[0].skipped, 1, "{report}");
    }
}
