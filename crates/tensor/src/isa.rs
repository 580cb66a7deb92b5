//! Which vector instructions the kernels use, decided at run time.
//!
//! The vector micro-kernels (`gemm/small.rs` for AVX-512; `conv2d/direct/kernels.rs` for AVX2
//! and AVX-512) are compiled into every x86-64 build with `#[target_feature]` and run only where
//! the CPU reports the ISA, so one binary runs on any x86-64 CPU and uses what it finds; elsewhere (or on aarch64) the portable
//! code and matrixmultiply (which picks its own kernel at run time) do the work.
//!
//! `CONVLAB_MAX_ISA=avx512|avx2|baseline` caps the choice (read once, at the first kernel), so
//! the paths of a smaller CPU can be run, timed and tested on a bigger one: `avx2` and
//! `baseline` both turn the AVX-512 kernels off (the auto-vectorised loops follow the build's
//! `target-cpu`, which a running program cannot change).

use std::sync::OnceLock;

/// The instruction-set levels convlab's own kernels tell apart, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// No vector kernels of convlab's own: portable Rust and matrixmultiply.
    Baseline,
    /// AVX2 and FMA (x86-64-v3): what most laptops have. The direct convolution's 8-lane
    /// kernels, and the FMA copy of `axpy`.
    Avx2,
    /// AVX-512F: the unpacked small GEMM, the window GEMM and the direct convolution's 16-lane
    /// kernels.
    Avx512,
}

impl Isa {
    pub fn name(self) -> &'static str {
        match self {
            Isa::Baseline => "baseline",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    /// `avx512`, `avx2` or `baseline` (as `CONVLAB_MAX_ISA` takes them).
    pub fn parse(text: &str) -> Option<Isa> {
        match text.trim().to_ascii_lowercase().as_str() {
            "avx512" => Some(Isa::Avx512),
            "avx2" => Some(Isa::Avx2),
            "baseline" => Some(Isa::Baseline),
            _ => None,
        }
    }
}

/// What this CPU has (asked once).
pub fn detected() -> Isa {
    static DETECTED: OnceLock<Isa> = OnceLock::new();
    *DETECTED.get_or_init(detect)
}

fn detect() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return Isa::Avx512;
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return Isa::Avx2;
        }
    }
    Isa::Baseline
}

/// The cap `CONVLAB_MAX_ISA` sets, if it is set to a level this knows; the command line checks
/// the variable first and refuses anything else with a message.
pub fn requested_max() -> Option<Isa> {
    std::env::var("CONVLAB_MAX_ISA")
        .ok()
        .and_then(|v| Isa::parse(&v))
}

/// The level the kernels use: what the CPU has, capped by `CONVLAB_MAX_ISA`. Decided once.
pub fn active() -> Isa {
    static ACTIVE: OnceLock<Isa> = OnceLock::new();
    *ACTIVE.get_or_init(|| match requested_max() {
        Some(cap) => detected().min(cap),
        None => detected(),
    })
}

/// Whether the AVX-512 kernels run.
#[inline]
pub fn avx512() -> bool {
    active() == Isa::Avx512
}

/// One line for a person: `avx512 (the CPU has avx512)`, `baseline (CONVLAB_MAX_ISA=baseline;
/// the CPU has avx512)`.
pub fn describe() -> String {
    match requested_max() {
        Some(cap) => format!(
            "{} (CONVLAB_MAX_ISA={}; the CPU has {})",
            active().name(),
            cap.name(),
            detected().name()
        ),
        None => format!("{} (the CPU has {})", active().name(), detected().name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_and_order() {
        assert_eq!(Isa::parse("AVX512"), Some(Isa::Avx512));
        assert_eq!(Isa::parse(" avx2 "), Some(Isa::Avx2));
        assert_eq!(Isa::parse("baseline"), Some(Isa::Baseline));
        assert_eq!(Isa::parse("sse9"), None);
        assert!(Isa::Baseline < Isa::Avx2 && Isa::Avx2 < Isa::Avx512);
        assert!(active() <= detected());
    }
}
