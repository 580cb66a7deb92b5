//! Sparse categorical cross-entropy, the plain way: the mean over the batch of `-log p[label]`,
//! for probabilities p (N, K) and one class index per row.
//!
//! ```text
//! L = -(1/N) Σ_n log p[n, label_n]          dL/dp[n, j] = -1 / (N · p[n, j]) if j = label_n, else 0
//! ```
//! After a softmax the two gradients combine into the simple one training uses:
//! `dL/dz[n, j] = (p[n, j] - [j = label_n]) / N` for the logits z.

/// The loss of probabilities `p` (rows of `classes`) against `labels`.
pub fn sparse_categorical_crossentropy_forward(p: &[f64], labels: &[usize], classes: usize) -> f64 {
    check("forward", p, labels, classes);
    let n = labels.len();
    -labels
        .iter()
        .enumerate()
        .map(|(row, &label)| p[row * classes + label].ln())
        .sum::<f64>()
        / n as f64
}

/// dL/dp.
pub fn sparse_categorical_crossentropy_backward(
    p: &[f64],
    labels: &[usize],
    classes: usize,
) -> Vec<f64> {
    check("backward", p, labels, classes);
    let n = labels.len() as f64;
    let mut dp = vec![0.0; p.len()];
    for (row, &label) in labels.iter().enumerate() {
        dp[row * classes + label] = -1.0 / (n * p[row * classes + label]);
    }
    dp
}

/// dL/dz for z whose softmax is `p`: the softmax and the loss's gradients combined.
pub fn softmax_cross_entropy_backward(p: &[f64], labels: &[usize], classes: usize) -> Vec<f64> {
    check("softmax backward", p, labels, classes);
    let n = labels.len() as f64;
    let mut dz: Vec<f64> = p.iter().map(|&v| v / n).collect();
    for (row, &label) in labels.iter().enumerate() {
        dz[row * classes + label] -= 1.0 / n;
    }
    dz
}

fn check(what: &str, p: &[f64], labels: &[usize], classes: usize) {
    assert!(
        p.len() == labels.len() * classes && labels.iter().all(|&l| l < classes),
        "reference sparse_categorical_crossentropy {what}: {} probabilities, {} labels, {classes} classes",
        p.len(),
        labels.len()
    );
}
