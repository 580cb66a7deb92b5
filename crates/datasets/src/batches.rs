//! `Batches`: the order in which one epoch visits the training set, cut into batches.
//!
//! The shuffle for epoch `e` of a run seeded `s` is `Mt19937::from_key([s_lo, s_hi, e_lo, e_hi])`
//! (the 32-bit halves of both) followed by NumPy's legacy shuffle, so it is the same on every
//! platform and in every run, depends on nothing but `(seed, epoch)`, and can be reproduced in
//! Python as `np.random.RandomState([s_lo, s_hi, e_lo, e_hi]).permutation(n)`. The last batch
//! holds the remainder when `batch_size` does not divide `n`, as Keras's `fit` does.

use std::slice::Chunks;

use crate::error::DatasetError;
use crate::mt19937::Mt19937;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batches {
    order: Vec<usize>,
    batch_size: usize,
}

impl Batches {
    /// The batches of indices into `0..n` for one epoch.
    pub fn new(
        n: usize,
        batch_size: usize,
        shuffle: bool,
        seed: u64,
        epoch: usize,
    ) -> Result<Batches, DatasetError> {
        if batch_size == 0 {
            return Err(DatasetError::argument(
                "Batches::new",
                "batch_size must be at least 1",
            ));
        }
        let mut order: Vec<usize> = (0..n).collect();
        if shuffle {
            let epoch = epoch as u64;
            let key = [
                seed as u32,
                (seed >> 32) as u32,
                epoch as u32,
                (epoch >> 32) as u32,
            ];
            Mt19937::from_key(&key).shuffle(&mut order);
        }
        Ok(Batches { order, batch_size })
    }

    /// Every index of the epoch, in visiting order.
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    /// Number of batches, the last one possibly partial.
    pub fn len(&self) -> usize {
        self.order.len().div_ceil(self.batch_size)
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The batches, each a slice of indices.
    pub fn iter(&self) -> Chunks<'_, usize> {
        self.order.chunks(self.batch_size)
    }
}

impl<'a> IntoIterator for &'a Batches {
    type Item = &'a [usize];
    type IntoIter = Chunks<'a, usize>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}
