//! Gradient checking by central differences in f64, element by element, with the tolerances of
//! PyTorch's `torch.autograd.gradcheck`: step eps = 1e-6, and an element passes when
//! `|analytic - numeric| <= atol + rtol · |numeric|` with atol = 1e-5, rtol = 1e-3.
//!
//! The function under test maps an input to any output y; it is reduced to one number with a
//! fixed random projection, `L = Σ r · y` (llm.c's habit), so every element of the upstream
//! gradient `dy = r` matters and a backward that mixes up positions cannot hide in a symmetric
//! sum. Then for each input element: `numeric = (L(x + eps) - L(x - eps)) / 2 eps`. In f64 the
//! rounding error of that quotient is about 1e-16 · |L| / eps ≈ 1e-10 · |L|, far below atol, and
//! the truncation error (eps² · L''') is below it too; so no element is skipped and no norm-wise
//! fallback is needed. Ops with kinks (ReLU, max pooling) are checked at inputs further than eps
//! from every kink, which the tests arrange.

/// PyTorch's `gradcheck` defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    /// Central-difference step.
    pub eps: f64,
    pub atol: f64,
    pub rtol: f64,
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance {
            eps: 1e-6,
            atol: 1e-5,
            rtol: 1e-3,
        }
    }
}

/// How one input's gradient compared with central differences.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// Elements compared (all of them: none is skipped).
    pub elements: usize,
    /// Elements outside the tolerance.
    pub failures: usize,
    pub max_abs_err: f64,
    /// The largest `|analytic - numeric| / |numeric|` (|numeric| floored at 1e-12).
    pub max_rel_err: f64,
    /// The element furthest outside (or closest to) the tolerance: index, analytic, numeric.
    pub worst: Option<(usize, f64, f64)>,
}

impl Comparison {
    pub fn passed(&self) -> bool {
        self.failures == 0
    }
}

/// Compares `analytic` (dL/dx for the projected loss L) with central differences of `loss` at
/// every element of `x`.
pub fn check_gradient(
    loss: impl Fn(&[f64]) -> f64,
    x: &[f64],
    analytic: &[f64],
    tol: Tolerance,
) -> Comparison {
    assert_eq!(
        x.len(),
        analytic.len(),
        "check_gradient: x and its gradient"
    );
    let mut probe = x.to_vec();
    let numeric: Vec<f64> = (0..x.len())
        .map(|i| {
            probe[i] = x[i] + tol.eps;
            let up = loss(&probe);
            probe[i] = x[i] - tol.eps;
            let down = loss(&probe);
            probe[i] = x[i];
            (up - down) / (2.0 * tol.eps)
        })
        .collect();
    compare(analytic, &numeric, tol)
}

/// Compares two gradients element by element with `tol`'s atol and rtol.
pub fn compare(analytic: &[f64], numeric: &[f64], tol: Tolerance) -> Comparison {
    let mut result = Comparison {
        elements: analytic.len(),
        failures: 0,
        max_abs_err: 0.0,
        max_rel_err: 0.0,
        worst: None,
    };
    let mut worst_margin = f64::NEG_INFINITY;
    for (i, (&a, &n)) in analytic.iter().zip(numeric).enumerate() {
        let err = (a - n).abs();
        let allowed = tol.atol + tol.rtol * n.abs();
        // A NaN anywhere is a failure.
        if err.is_nan() || err > allowed {
            result.failures += 1;
        }
        result.max_abs_err = result.max_abs_err.max(err);
        result.max_rel_err = result.max_rel_err.max(err / n.abs().max(1e-12));
        let margin = if err.is_nan() {
            f64::INFINITY
        } else {
            err / allowed
        };
        if margin > worst_margin {
            worst_margin = margin;
            result.worst = Some((i, a, n));
        }
    }
    result
}

/// `L = Σ r · y`: the projection every check reduces an output with.
pub fn project(r: &[f64], y: &[f64]) -> f64 {
    assert_eq!(r.len(), y.len(), "project: r and y");
    r.iter().zip(y).map(|(a, b)| a * b).sum()
}
