//! `Batches`: seeded, portable epoch shuffles, checked against NumPy
//! (`np.random.RandomState([seed_lo, seed_hi, epoch_lo, epoch_hi]).permutation(n)`, recorded by
//! `fixtures/make_split_fixture.py`).

use crate::common;

use common::fixture::records;
use convlab_datasets::mt19937::Mt19937;
use convlab_datasets::Batches;

#[test]
fn epoch_order_matches_numpy() {
    for record in records("perm") {
        let key: Vec<u64> = record.head[1..5]
            .iter()
            .map(|w| w.parse().expect("key"))
            .collect();
        let n: usize = record.head[5].parse().expect("n");
        let seed = key[0] | key[1] << 32;
        let epoch = (key[2] | key[3] << 32) as usize;
        let batches = Batches::new(n, 7, true, seed, epoch).expect("batches");
        assert_eq!(
            batches.order(),
            record.indices("values"),
            "{:?}",
            record.head
        );
        let key32: Vec<u32> = key.iter().map(|&k| k as u32).collect();
        assert_eq!(
            Mt19937::from_key(&key32).permutation(n),
            record.indices("values")
        );
    }
}

#[test]
fn batches_cover_every_index_once_with_a_partial_last_batch() {
    let batches = Batches::new(103, 10, true, 42, 3).expect("batches");
    assert_eq!(batches.len(), 11);
    let sizes: Vec<usize> = batches.iter().map(<[usize]>::len).collect();
    assert_eq!(sizes, [10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 3]);
    let mut seen: Vec<usize> = (&batches).into_iter().flatten().copied().collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..103).collect::<Vec<_>>());
}

#[test]
fn the_order_depends_on_seed_and_epoch_only() {
    let order = |seed, epoch| {
        Batches::new(1000, 32, true, seed, epoch)
            .expect("b")
            .order()
            .to_vec()
    };
    assert_eq!(order(1, 0), order(1, 0));
    assert_ne!(order(1, 0), order(1, 1));
    assert_ne!(order(1, 0), order(2, 0));
    // The high half of the seed counts too.
    assert_ne!(order(1, 0), order(1 | 1 << 32, 0));
    let unshuffled = Batches::new(5, 2, false, 9, 9).expect("b");
    assert_eq!(unshuffled.order(), [0, 1, 2, 3, 4]);
    let batches: Vec<&[usize]> = unshuffled.iter().collect();
    assert_eq!(batches, [&[0, 1][..], &[2, 3], &[4]]);
}

#[test]
fn zero_batch_size_is_an_error_and_empty_data_has_no_batches() {
    assert!(Batches::new(10, 0, true, 0, 0).is_err());
    let empty = Batches::new(0, 4, true, 0, 0).expect("empty");
    assert!(empty.is_empty());
    assert_eq!(empty.iter().count(), 0);
}
