//! `train_test_split` against scikit-learn's own output, recorded by
//! `fixtures/make_split_fixture.py` (numpy 2.4.6, scikit-learn 1.9.1):
//! `train_test_split(np.arange(n), test_size=t, random_state=seed)`, for sizes from 2 (the
//! smallest that splits) through odd and prime sizes to 60,000, 70,000 and CIFAR-10's 50,000.

use crate::common;

use common::fixture::records;
use convlab_datasets::{train_test_split, DatasetError};

fn head(words: &[String]) -> (usize, f64, u32) {
    let n = words[1].parse().expect("n");
    let t = words[2].parse().expect("test_size");
    let seed = words[3].parse().expect("seed");
    (n, t, seed)
}

#[test]
fn small_splits_match_scikit_learn_index_for_index() {
    for record in records("split") {
        let (n, t, seed) = head(&record.head);
        let split = train_test_split(n, t, seed).expect("valid split");
        assert_eq!(
            split.train,
            record.indices("train"),
            "train of {:?}",
            record.head
        );
        assert_eq!(
            split.test,
            record.indices("test"),
            "test of {:?}",
            record.head
        );
    }
}

/// (sum, sum of (k + 1) * v[k]): together they pin down the multiset and, very nearly, the order.
fn sums(v: &[usize]) -> (u64, u64) {
    let plain = v.iter().map(|&x| x as u64).sum();
    let weighted = v
        .iter()
        .enumerate()
        .map(|(k, &x)| (k as u64 + 1) * x as u64)
        .sum();
    (plain, weighted)
}

#[test]
fn the_fashion_mnist_split_matches_scikit_learn() {
    for record in records("bigsplit") {
        let (n, t, seed) = head(&record.head);
        let split = train_test_split(n, t, seed).expect("valid split");
        let label = &record.head;
        assert_eq!(split.train[..50], record.indices("train_head"), "{label:?}");
        assert_eq!(
            split.train[split.train.len() - 50..],
            record.indices("train_tail"),
            "{label:?}"
        );
        assert_eq!(split.test[..50], record.indices("test_head"), "{label:?}");
        assert_eq!(
            split.test[split.test.len() - 50..],
            record.indices("test_tail"),
            "{label:?}"
        );
        let s = record.get("sums");
        assert_eq!(
            (split.train.len() as u64, split.test.len() as u64),
            (s[0], s[1]),
            "{label:?}"
        );
        assert_eq!(sums(&split.train), (s[2], s[3]), "{label:?}");
        assert_eq!(sums(&split.test), (s[4], s[5]), "{label:?}");
    }
    let split = train_test_split(60_000, 0.2, 42).expect("split");
    assert_eq!((split.train.len(), split.test.len()), (48_000, 12_000));
    let split = train_test_split(50_000, 0.2, 42).expect("CIFAR-10's split");
    assert_eq!((split.train.len(), split.test.len()), (40_000, 10_000));
}

/// Any size from 2 up: the two sets partition `0..n`, with scikit-learn's sizes
/// (`n_test = ceil(t * n)`), whenever neither would be empty.
#[test]
fn every_size_splits_into_a_partition_of_the_right_sizes() {
    for n in 2..400usize {
        for t in [0.01, 0.1, 0.2, 1.0 / 3.0, 0.5, 0.7, 0.99] {
            let n_test = (t * n as f64).ceil() as usize;
            let result = train_test_split(n, t, n as u32);
            if n_test >= n {
                assert!(
                    result.is_err(),
                    "n={n} t={t}: the training set would be empty"
                );
                continue;
            }
            let split = result.expect("valid split");
            assert_eq!(split.test.len(), n_test, "n={n} t={t}");
            assert_eq!(split.train.len(), n - n_test, "n={n} t={t}");
            let mut all: Vec<usize> = split.train.iter().chain(&split.test).copied().collect();
            all.sort_unstable();
            assert_eq!(all, (0..n).collect::<Vec<_>>(), "n={n} t={t}");
        }
    }
}

#[test]
fn impossible_splits_are_errors() {
    for (n, t) in [
        (10, 0.0),
        (10, 1.0),
        (10, -0.5),
        (10, f64::NAN),
        (1, 0.5),
        (0, 0.2),
    ] {
        let result = train_test_split(n, t, 0);
        assert!(
            matches!(result, Err(DatasetError::Argument { .. })),
            "n={n} t={t}: {result:?}"
        );
    }
}
