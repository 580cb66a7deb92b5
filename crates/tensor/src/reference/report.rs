//! One check's outcome, as `convlab gradcheck` prints it (a table row, or a JSON line) and the
//! tests assert it.

/// Which of the three layers of checks a result belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    /// (a) a reference op against central differences in f64.
    ReferenceOp,
    /// (b) a fast kernel (or fused op) against the reference, compared directly.
    FastKernel,
    /// (c) the whole network: the f32 tape against the f64 reference network, and that against
    /// central differences.
    Network,
}

impl Layer {
    /// "a", "b" or "c".
    pub fn letter(self) -> &'static str {
        match self {
            Layer::ReferenceOp => "a",
            Layer::FastKernel => "b",
            Layer::Network => "c",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct CheckResult {
    /// What was checked, e.g. "conv2d dx" or "im2col conv2d forward".
    pub check: String,
    pub layer: Layer,
    /// The type of the values under test: "f64" for the reference, "f32" for fast kernels.
    pub dtype: &'static str,
    /// The shapes, as written in the table (`[2, 5, 5, 3] [3, 3, 3, 4] s2 same`).
    pub shapes: String,
    /// Elements compared.
    pub elements: usize,
    /// Elements not judged (always 0 for layers (a) and (b)).
    pub skipped: usize,
    pub max_abs_err: f64,
    pub max_rel_err: f64,
    /// Layer (b): the worst error as a multiple of the f32 rounding bound of its sum.
    pub worst_ratio: Option<f64>,
    /// The bound `worst_ratio` is held to.
    pub limit: Option<f64>,
    pub passed: bool,
}
