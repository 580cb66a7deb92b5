//! The chapter's whole network, checked end to end: every parameter of every layer against
//! central differences of the loss (the network is defined in `checks::network_check`), and
//! every op's standard check as `convlab gradcheck` runs it.

use convlab_autograd::checks;
use convlab_tensor::ConvAlgorithm;

#[test]
fn every_parameter_of_the_chapter_network() {
    for algorithm in [
        ConvAlgorithm::Im2col,
        ConvAlgorithm::Direct,
        ConvAlgorithm::Winograd,
    ] {
        let report = checks::network_check(algorithm, 0);
        println!("{algorithm:?}\n{report}");
        assert!(report.passed(), "{algorithm:?}\n{report}");
    }
}

#[test]
fn every_standard_check_passes_for_several_seeds() {
    for check in checks::all() {
        if check.name.starts_with("network") {
            continue; // above
        }
        for seed in [0, 1, 2] {
            let report = check.run(seed);
            assert!(report.passed(), "{} seed {seed}\n{report}", check.name);
        }
    }
}
