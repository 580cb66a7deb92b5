//! `axpy`: `acc[i] += scale * row[i]` as one fused multiply-add per element, the direct
//! convolution's inner loop.
//!
//! `f32::mul_add` rounds once, so the result is the same on every CPU; but where the build's
//! target has no FMA (the default x86-64 build) it is a library call per element, about 4x slower
//! than the hardware's. So the loop is compiled a second time with AVX2 and FMA enabled and that
//! copy runs where the CPU has them (`isa::active() >= Avx2`), found at run time: the same bits
//! either way.

/// `acc[i] += scale * row[i]` for every i (the shorter length of the two).
#[inline]
pub fn axpy(acc: &mut [f32], scale: f32, row: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    if crate::isa::active() >= crate::isa::Isa::Avx2 {
        // SAFETY: `isa` found AVX2 and FMA on this CPU; the function reads and writes only
        // through the two slices.
        unsafe { axpy_fma(acc, scale, row) };
        return;
    }
    axpy_portable(acc, scale, row);
}

#[inline(always)]
fn axpy_portable(acc: &mut [f32], scale: f32, row: &[f32]) {
    for (a, &r) in acc.iter_mut().zip(row) {
        *a = scale.mul_add(r, *a);
    }
}

/// # Safety
/// The CPU has AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn axpy_fma(acc: &mut [f32], scale: f32, row: &[f32]) {
    axpy_portable(acc, scale, row);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gives_the_bits_of_mul_add_on_either_path() {
        let row: Vec<f32> = (0..37).map(|i| (i as f32 * 0.37).sin()).collect();
        let start: Vec<f32> = (0..37).map(|i| (i as f32 * 0.11).cos()).collect();
        let mut acc = start.clone();
        axpy(&mut acc, 0.3, &row);
        let mut plain = start.clone();
        axpy_portable(&mut plain, 0.3, &row);
        let want: Vec<f32> = start
            .iter()
            .zip(&row)
            .map(|(&a, &r)| 0.3f32.mul_add(r, a))
            .collect();
        assert_eq!(acc, want);
        assert_eq!(plain, want);
    }
}
