//! Sparse categorical cross-entropy fused with log-softmax: the loss of a classifier from its
//! logits z (N, C) and integer labels (N), averaged over the batch:
//! ```text
//! loss = -(1/N) * sum_i log_softmax(z_i)[label_i]
//! dz   = (softmax(z) - onehot(label)) * dloss / N
//! ```
//! Fusing keeps it stable: log_softmax never takes the log of a rounded-to-zero probability, so
//! the loss stays finite for any finite logits (logits of ±1000 give a loss of 2000, not inf), and
//! a probability near 0 for the true class gives a large but exact loss and a gradient of
//! (p - 1) / N, bounded by 1/N. Keras, given probabilities instead of logits, clips them to
//! [1e-7, 1 - 1e-7]; convlab's `Dense(..).activation(Softmax)` feeds this op its logits instead,
//! so no clipping is needed.

use convlab_tensor::{softmax, Tensor};

use crate::tape::{Backward, Tape, Var};
use crate::AutogradError;

struct CrossEntropyBackward {
    /// log_softmax(z), (N, C).
    log_probs: Tensor,
    labels: Vec<usize>,
}

impl Backward for CrossEntropyBackward {
    fn name(&self) -> &'static str {
        "sparse_categorical_crossentropy"
    }
    fn backward(&self, dy: &Tensor, _needs: &[bool]) -> Vec<Option<Tensor>> {
        let [n, c] = self
            .log_probs
            .dims2("sparse_categorical_crossentropy backward");
        let scale = dy.item() / n as f32;
        let mut dz: Vec<f32> = self.log_probs.data().iter().map(|lp| lp.exp()).collect();
        for (row, &label) in dz.chunks_exact_mut(c).zip(&self.labels) {
            row[label] -= 1.0;
            row.iter_mut().for_each(|v| *v *= scale);
        }
        vec![Some(Tensor::from_vec(
            "sparse_categorical_crossentropy backward",
            &[n, c],
            dz,
        ))]
    }
}

impl Tape {
    /// Mean cross-entropy of logits (N, C) against `labels` (N values in 0..C).
    /// A label out of range or a count that differs from N is an error naming it.
    pub fn sparse_categorical_crossentropy(
        &mut self,
        logits: &Var,
        labels: &[usize],
    ) -> Result<Var, AutogradError> {
        let [n, c] = logits.value().dims2("sparse_categorical_crossentropy");
        if labels.len() != n {
            return Err(AutogradError::LabelCount {
                labels: labels.len(),
                rows: n,
            });
        }
        if let Some((index, &label)) = labels.iter().enumerate().find(|(_, &l)| l >= c) {
            return Err(AutogradError::LabelOutOfRange {
                index,
                label,
                classes: c,
            });
        }
        let log_probs = softmax::log_softmax(logits.value());
        let total: f64 = log_probs
            .data()
            .chunks_exact(c)
            .zip(labels)
            .map(|(row, &label)| -(row[label] as f64))
            .sum();
        let loss = Tensor::scalar((total / n as f64) as f32);
        Ok(self.record(loss, &[logits], || CrossEntropyBackward {
            log_probs,
            labels: labels.to_vec(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use convlab_tensor::Tensor;
    use proptest::prelude::*;

    use crate::gradcheck::testing::{assert_grads, random};
    use crate::gradcheck::GradcheckOptions;
    use crate::Tape;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn cross_entropy_gradients(n in 1usize..5, c in 1usize..8, scale in 0.1f32..5.0, seed in any::<u64>()) {
            let opts = GradcheckOptions { step: 1e-2, atol: 1e-4, rtol: 1e-3, seed, norm_tolerance: None, kink_tolerance: None };
            let mut z = random(&[n, c], seed);
            z.data_mut().iter_mut().for_each(|v| *v *= scale);
            let labels: Vec<usize> = (0..n).map(|i| (i * 7 + seed as usize) % c).collect();
            assert_grads(|t, v| t.sparse_categorical_crossentropy(&v[0], &labels).unwrap(), &[z], opts);
        }
    }

    #[test]
    fn stable_for_huge_logits() {
        let mut tape = Tape::new();
        let z =
            tape.leaf(Tensor::new(&[2, 3], vec![1000., -1000., 0., -1000., 1000., 0.]).unwrap());
        // Row 0 is confidently right (loss 0), row 1 confidently wrong (loss 2000).
        let loss = tape.sparse_categorical_crossentropy(&z, &[0, 0]).unwrap();
        assert_eq!(loss.value().item(), 1000.0);
        let grads = tape.backward(&loss).unwrap();
        let dz = grads.get(&z).unwrap();
        assert!(dz.data().iter().all(|v| v.is_finite()), "{dz:?}");
        // Row 1: (softmax - onehot) / 2 = ([0, 1, 0] - [1, 0, 0]) / 2.
        assert_eq!(&dz.data()[3..], &[-0.5, 0.5, 0.0]);
    }

    #[test]
    fn bad_labels_are_errors() {
        let mut tape = Tape::new();
        let z = tape.leaf(Tensor::zeros(&[2, 3]));
        let err = tape
            .sparse_categorical_crossentropy(&z, &[0, 3])
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "label 3 at index 1 is out of range for 3 classes"
        );
        let err = tape
            .sparse_categorical_crossentropy(&z, &[0])
            .err()
            .unwrap();
        assert_eq!(err.to_string(), "1 labels for 2 rows of logits");
    }
}
