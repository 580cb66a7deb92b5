//! The few vector operations the direct convolution's micro-kernels use, for AVX2 (8 lanes of
//! f32 in a ymm register) and AVX-512 (16 lanes in a zmm register).
//!
//! The micro-kernels (`kernels.rs`) are written once, generic over `Lanes`, and compiled twice:
//! inside a `#[target_feature(enable = "avx2,fma")]` function and inside a
//! `#[target_feature(enable = "avx512f")]` one. Every method here is `#[inline(always)]`, so it
//! is inlined into those functions and the intrinsics inside it are compiled for their ISA.
//!
//! "Part" loads and stores touch only the first `n` lanes (a block's last channels, when the
//! channel count is not a multiple of the vector width): AVX-512 with a bit mask, AVX2 with
//! `vmaskmovps` and a lane-index comparison. Lanes past `n` load as 0.0.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// One vector width's operations. Every method is unsafe: the caller's function must have the
/// ISA enabled, and pointers must be valid for the lanes touched.
pub(super) trait Lanes {
    /// f32 lanes in one register.
    const L: usize;
    type V: Copy;
    unsafe fn zero() -> Self::V;
    unsafe fn load(p: *const f32) -> Self::V;
    /// Lanes 0..n from p (n <= L), the rest 0.0.
    unsafe fn load_part(p: *const f32, n: usize) -> Self::V;
    /// `*p` in every lane.
    unsafe fn splat(p: *const f32) -> Self::V;
    /// `a * b + acc`, rounded once.
    unsafe fn fma(a: Self::V, b: Self::V, acc: Self::V) -> Self::V;
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    /// `relu_value` lane by lane: x where x > 0 or x is NaN, else +0.0.
    unsafe fn relu(v: Self::V) -> Self::V;
    unsafe fn store(p: *mut f32, v: Self::V);
    /// Lanes 0..n to p (n <= L); memory past them is not touched.
    unsafe fn store_part(p: *mut f32, v: Self::V, n: usize);
    /// The sum of the lanes, added pairwise in a fixed order.
    unsafe fn sum(v: Self::V) -> f32;
}

/// AVX2 and FMA: 8 lanes.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(super) struct Avx2;

#[cfg(target_arch = "x86_64")]
impl Avx2 {
    /// All ones in the lanes below n: the mask `vmaskmovps` reads (the sign bit of each lane).
    #[inline(always)]
    unsafe fn first(n: usize) -> __m256i {
        _mm256_cmpgt_epi32(
            _mm256_set1_epi32(n as i32),
            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
        )
    }
}

#[cfg(target_arch = "x86_64")]
impl Lanes for Avx2 {
    const L: usize = 8;
    type V = __m256;
    #[inline(always)]
    unsafe fn zero() -> __m256 {
        _mm256_setzero_ps()
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m256 {
        _mm256_loadu_ps(p)
    }
    #[inline(always)]
    unsafe fn load_part(p: *const f32, n: usize) -> __m256 {
        _mm256_maskload_ps(p, Self::first(n))
    }
    #[inline(always)]
    unsafe fn splat(p: *const f32) -> __m256 {
        _mm256_broadcast_ss(&*p)
    }
    #[inline(always)]
    unsafe fn fma(a: __m256, b: __m256, acc: __m256) -> __m256 {
        _mm256_fmadd_ps(a, b, acc)
    }
    #[inline(always)]
    unsafe fn add(a: __m256, b: __m256) -> __m256 {
        _mm256_add_ps(a, b)
    }
    #[inline(always)]
    unsafe fn relu(v: __m256) -> __m256 {
        let keep = _mm256_cmp_ps::<_CMP_NLE_UQ>(v, _mm256_setzero_ps());
        _mm256_and_ps(keep, v)
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m256) {
        _mm256_storeu_ps(p, v)
    }
    #[inline(always)]
    unsafe fn store_part(p: *mut f32, v: __m256, n: usize) {
        _mm256_maskstore_ps(p, Self::first(n), v)
    }
    #[inline(always)]
    unsafe fn sum(v: __m256) -> f32 {
        let half = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let quarter = _mm_add_ps(half, _mm_movehl_ps(half, half));
        _mm_cvtss_f32(_mm_add_ss(quarter, _mm_shuffle_ps::<1>(quarter, quarter)))
    }
}

/// AVX-512F: 16 lanes.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(super) struct Avx512;

#[cfg(target_arch = "x86_64")]
impl Lanes for Avx512 {
    const L: usize = 16;
    type V = __m512;
    #[inline(always)]
    unsafe fn zero() -> __m512 {
        _mm512_setzero_ps()
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m512 {
        _mm512_loadu_ps(p)
    }
    #[inline(always)]
    unsafe fn load_part(p: *const f32, n: usize) -> __m512 {
        _mm512_maskz_loadu_ps(((1u32 << n) - 1) as u16, p)
    }
    #[inline(always)]
    unsafe fn splat(p: *const f32) -> __m512 {
        _mm512_set1_ps(*p)
    }
    #[inline(always)]
    unsafe fn fma(a: __m512, b: __m512, acc: __m512) -> __m512 {
        _mm512_fmadd_ps(a, b, acc)
    }
    #[inline(always)]
    unsafe fn add(a: __m512, b: __m512) -> __m512 {
        _mm512_add_ps(a, b)
    }
    #[inline(always)]
    unsafe fn relu(v: __m512) -> __m512 {
        let keep = _mm512_cmp_ps_mask::<_CMP_NLE_UQ>(v, _mm512_setzero_ps());
        _mm512_maskz_mov_ps(keep, v)
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m512) {
        _mm512_storeu_ps(p, v)
    }
    #[inline(always)]
    unsafe fn store_part(p: *mut f32, v: __m512, n: usize) {
        _mm512_mask_storeu_ps(p, ((1u32 << n) - 1) as u16, v)
    }
    #[inline(always)]
    unsafe fn sum(v: __m512) -> f32 {
        let half = _mm256_add_ps(
            _mm512_castps512_ps256(v),
            _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v))),
        );
        Avx2::sum(half)
    }
}
