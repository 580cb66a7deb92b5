//! `train_test_split`: the same split as scikit-learn's, index for index.
//!
//! `sklearn.model_selection.train_test_split(X, y, test_size=t, random_state=seed)` (without
//! `stratify`) goes through `ShuffleSplit`, which does
//!
//! ```python
//! n_test = ceil(t * n); n_train = n - n_test
//! permutation = np.random.RandomState(seed).permutation(n)
//! test = permutation[:n_test]; train = permutation[n_test:n_test + n_train]
//! ```
//!
//! and `Mt19937` reproduces `RandomState` exactly, so `train_test_split(60_000, 0.2, 42)` picks
//! the same 12,000 validation images, in the same order, as the Keras tutorials that split with
//! scikit-learn. `tests/integration/split_sklearn.rs` checks this against scikit-learn's own
//! output.

use crate::error::DatasetError;
use crate::mt19937::Mt19937;

/// Indices into the original data: `train` for fitting, `test` for validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub train: Vec<usize>,
    pub test: Vec<usize>,
}

/// Splits `0..n` as scikit-learn does for a float `test_size` in (0, 1) and an integer
/// `random_state` in `0..2^32`.
pub fn train_test_split(n: usize, test_size: f64, seed: u32) -> Result<Split, DatasetError> {
    if !(test_size > 0.0 && test_size < 1.0) {
        return Err(DatasetError::argument(
            "train_test_split",
            format!("test_size must be in (0, 1), got {test_size}"),
        ));
    }
    // The same float arithmetic as scikit-learn's `ceil(test_size * n_samples)`.
    let n_test = (test_size * n as f64).ceil() as usize;
    let n_train = n.saturating_sub(n_test);
    if n_train == 0 || n_test == 0 {
        return Err(DatasetError::argument(
            "train_test_split",
            format!("with n = {n} and test_size = {test_size}, a set would be empty"),
        ));
    }
    let permutation = Mt19937::new(seed).permutation(n);
    Ok(Split {
        test: permutation[..n_test].to_vec(),
        train: permutation[n_test..].to_vec(),
    })
}
