//! Pooling tests: hand-computed answers (ties, `same` edges, overlapping windows) and a plain
//! reference on random shapes.

use proptest::prelude::*;

use super::*;
use crate::Tensor;

fn image(h: usize, w: usize, values: &[f32]) -> Tensor {
    Tensor::new(&[1, h, w, 1], values.to_vec()).unwrap()
}

#[test]
fn max_and_avg_known_answers() {
    // 1..16 in a 4x4 image, 2x2 windows: each window's max is its bottom-right cell.
    let x = image(4, 4, &(1..=16).map(|v| v as f32).collect::<Vec<_>>());
    let g = Pool2dGeometry::new(x.shape(), (2, 2), (2, 2), Padding::Valid).unwrap();
    let out = max_pool2d_forward(&g, &x);
    assert_eq!(out.y.data(), &[6., 8., 14., 16.]);
    assert_eq!(out.argmax, vec![5, 7, 13, 15]);
    // Means: (1+2+5+6)/4 = 3.5, (3+4+7+8)/4 = 5.5, ...
    assert_eq!(avg_pool2d_forward(&g, &x).data(), &[3.5, 5.5, 11.5, 13.5]);

    let dy = Tensor::new(&[1, 2, 2, 1], vec![1., 2., 3., 4.]).unwrap();
    let dx = max_pool2d_backward(&g, &out.argmax, &dy);
    let mut want = [0.0; 16];
    (want[5], want[7], want[13], want[15]) = (1., 2., 3., 4.);
    assert_eq!(dx.data(), &want[..]);
    let dx = avg_pool2d_backward(&g, &dy);
    assert_eq!(&dx.data()[..4], &[0.25, 0.25, 0.5, 0.5]);
}

#[test]
fn ties_go_to_the_first_maximum() {
    let x = image(2, 2, &[7., 7., 7., 7.]);
    let g = Pool2dGeometry::new(x.shape(), (2, 2), (2, 2), Padding::Valid).unwrap();
    let out = max_pool2d_forward(&g, &x);
    assert_eq!(out.argmax, vec![0]);
    let dx = max_pool2d_backward(&g, &out.argmax, &Tensor::full(&[1, 1, 1, 1], 1.0));
    assert_eq!(dx.data(), &[1., 0., 0., 0.]);
}

#[test]
fn two_by_two_windows_pick_the_first_maximum_in_every_channel() {
    // The 2x2 path's vector loop, on 19 channels (vector lanes and a tail) of few distinct
    // values (ties everywhere) and NaNs: each output's argmax is the first cell of its window,
    // in row-major order, that beats every earlier one, as the rule in max.rs says.
    let (h, w, c) = (4, 6, 19);
    let pick = [-1.0, 0.0, 2.0, 2.0, f32::NAN, 0.0, -1.0];
    let values: Vec<f32> = (0..2 * h * w * c)
        .map(|i| pick[(i * i + 3 * i) % 7])
        .collect();
    let x = Tensor::new(&[2, h, w, c], values.clone()).unwrap();
    let g = Pool2dGeometry::new(x.shape(), (2, 2), (2, 2), Padding::Valid).unwrap();
    let out = max_pool2d_forward(&g, &x);
    let mut j = 0;
    for n in 0..2 {
        let image = &values[n * h * w * c..][..h * w * c];
        for oy in 0..h / 2 {
            for ox in 0..w / 2 {
                for ch in 0..c {
                    let cells = [(0, 0), (0, 1), (1, 0), (1, 1)]
                        .map(|(dy, dx)| ((2 * oy + dy) * w + 2 * ox + dx) * c + ch);
                    let mut won = cells[0];
                    for &at in &cells[1..] {
                        if image[at] > image[won] {
                            won = at;
                        }
                    }
                    assert_eq!(out.argmax[j], won as u32, "output {j}");
                    assert_eq!(out.y.data()[j].to_bits(), image[won].to_bits());
                    j += 1;
                }
            }
        }
    }
}

#[test]
fn same_padding_cells_never_win_and_are_not_counted() {
    // 3x3 of negative values, 2x2 windows, stride 2, same: out 2x2, one padding row/column at
    // the bottom/right (total (2-1)*2+2-3 = 1, all of it after).
    // -1 -2 -3
    // -4 -5 -6
    // -7 -8 -9
    let x = image(3, 3, &(1..=9).map(|v| -(v as f32)).collect::<Vec<_>>());
    let g = Pool2dGeometry::new(x.shape(), (2, 2), (2, 2), Padding::Same).unwrap();
    assert_eq!((g.ho, g.wo, g.pad_top, g.pad_left), (2, 2, 0, 0));
    // A padded zero would beat every value here; it must not.
    assert_eq!(max_pool2d_forward(&g, &x).y.data(), &[-1., -3., -7., -9.]);
    // (-1-2-4-5)/4, (-3-6)/2, (-7-8)/2, -9/1.
    assert_eq!(avg_pool2d_forward(&g, &x).data(), &[-3., -4.5, -7.5, -9.]);
    let dx = avg_pool2d_backward(&g, &Tensor::full(&[1, 2, 2, 1], 1.0));
    assert_eq!(
        dx.data(),
        &[0.25, 0.25, 0.5, 0.25, 0.25, 0.5, 0.5, 0.5, 1.0]
    );
}

#[test]
fn overlapping_windows_add_their_gradients() {
    // Windows of 3 at stride 1 over [1, 5, 2, 0]: both pick the 5, which gets both gradients.
    let x = image(1, 4, &[1., 5., 2., 0.]);
    let g = Pool2dGeometry::new(x.shape(), (1, 3), (1, 1), Padding::Valid).unwrap();
    let out = max_pool2d_forward(&g, &x);
    assert_eq!(out.y.data(), &[5., 5.]);
    let dy = Tensor::new(&[1, 1, 2, 1], vec![0.5, 2.0]).unwrap();
    assert_eq!(
        max_pool2d_backward(&g, &out.argmax, &dy).data(),
        &[0., 2.5, 0., 0.]
    );
}

#[test]
fn bad_pool_geometry_is_an_error() {
    let err = Pool2dGeometry::new(&[1, 1, 5, 1], (2, 2), (2, 2), Padding::Valid).unwrap_err();
    assert_eq!(
        err.to_string(),
        "pool2d: window 2 is larger than the input 1 along height with valid padding"
    );
    let err = Pool2dGeometry::new(&[1, 4, 4, 1], (2, 2), (2, 0), Padding::Valid).unwrap_err();
    assert_eq!(
        err.to_string(),
        "pool2d: stride along width must be at least 1, got 0"
    );
}

/// Max and mean of every window by plain loops over signed positions (padding skipped).
fn reference(g: &Pool2dGeometry, x: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let (mut max, mut avg) = (Vec::new(), Vec::new());
    for n in 0..g.n {
        for oy in 0..g.ho {
            for ox in 0..g.wo {
                for ch in 0..g.c {
                    let (mut m, mut sum, mut count) = (f32::NEG_INFINITY, 0.0f64, 0);
                    for py in 0..g.ph {
                        for px in 0..g.pw {
                            let iy = (oy * g.sh + py) as isize - g.pad_top as isize;
                            let ix = (ox * g.sw + px) as isize - g.pad_left as isize;
                            if iy < 0 || ix < 0 || iy >= g.h as isize || ix >= g.w as isize {
                                continue;
                            }
                            let v = x[((n * g.h + iy as usize) * g.w + ix as usize) * g.c + ch];
                            m = m.max(v);
                            sum += v as f64;
                            count += 1;
                        }
                    }
                    max.push(m);
                    avg.push((sum / count as f64) as f32);
                }
            }
        }
    }
    (max, avg)
}

fn dy_len(g: &Pool2dGeometry) -> usize {
    g.n * g.ho * g.wo * g.c
}

/// The reference backward of max pooling: zeros, then each dy added at its window's argmax.
fn scatter(g: &Pool2dGeometry, argmax: &[u32], dy: &[f32]) -> Vec<f32> {
    let (image, out_image) = (g.h * g.w * g.c, g.ho * g.wo * g.c);
    let mut dx = vec![0.0f32; g.n * image];
    for (j, (&at, &d)) in argmax.iter().zip(dy).enumerate() {
        dx[j / out_image * image + at as usize] += d;
    }
    dx
}

/// 2x2 pooling of even sizes (the chapter's), where each input is in exactly one window and the
/// backward writes dx in one pass: the same as the scatter, stale pooled storage or not.
#[test]
fn exact_tiling_backward_matches_the_scatter() {
    let mut rng = crate::rng::Rng::new(3);
    for &(n, h, w, c) in &[(2, 4, 6, 3), (3, 28, 28, 32), (1, 2, 2, 1)] {
        let g = Pool2dGeometry::new(&[n, h, w, c], (2, 2), (2, 2), Padding::Valid).unwrap();
        let x: Vec<f32> = (0..n * h * w * c).map(|_| rng.uniform() - 0.5).collect();
        let out = max_pool2d_forward(&g, &Tensor::new(&g.x_shape(), x).unwrap());
        let dy: Vec<f32> = (0..dy_len(&g)).map(|_| rng.uniform()).collect();
        // Leave NaN-filled storage in the recycling pool, in case the backward reuses it.
        drop(Tensor::full(&g.x_shape(), f32::NAN));
        let dx = max_pool2d_backward(
            &g,
            &out.argmax,
            &Tensor::new(&g.y_shape(), dy.clone()).unwrap(),
        );
        assert_eq!(
            dx.data(),
            &scatter(&g, &out.argmax, &dy)[..],
            "{n}x{h}x{w}x{c}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn pooling_matches_the_reference(
        (n, h, w, c) in (1usize..=3, 1usize..=12, 1usize..=12, 1usize..=4),
        (ph, pw, sh, sw) in (1usize..=4, 1usize..=4, 1usize..=4, 1usize..=4),
        same in any::<bool>(),
        values in proptest::collection::vec(-100.0f32..100.0, 12 * 12 * 4 * 3),
    ) {
        let padding = if same || ph > h || pw > w { Padding::Same } else { Padding::Valid };
        let g = Pool2dGeometry::new(&[n, h, w, c], (ph, pw), (sh, sw), padding).unwrap();
        let x = Tensor::new(&g.x_shape(), values[..n * h * w * c].to_vec()).unwrap();
        let (max, avg) = reference(&g, x.data());
        let out = max_pool2d_forward(&g, &x);
        prop_assert_eq!(out.y.data(), &max[..]);
        // The inference path (no argmax) gives the same values.
        let values_only = max_pool2d_forward_values(&g, &x);
        prop_assert_eq!(values_only.data(), &max[..]);
        let got = avg_pool2d_forward(&g, &x);
        for (a, b) in got.data().iter().zip(&avg) {
            prop_assert!((a - b).abs() <= 1e-4 * b.abs().max(1.0), "avg {} vs {}", a, b);
        }
        // Each output's gradient lands on an input holding exactly that output's value.
        for (j, &at) in out.argmax.iter().enumerate() {
            let image = j / (g.ho * g.wo * g.c);
            prop_assert_eq!(x.data()[image * h * w * c + at as usize], max[j]);
        }
        // Max's backward is the plain scatter of dy onto the argmax (whichever path it takes).
        let dy = Tensor::new(&g.y_shape(), values[..dy_len(&g)].to_vec()).unwrap();
        let dx = max_pool2d_backward(&g, &out.argmax, &dy);
        prop_assert_eq!(dx.data(), &scatter(&g, &out.argmax, dy.data())[..]);
        // Gradients sum to the upstream total (max routes, avg shares).
        let dy = Tensor::full(&g.y_shape(), 1.0);
        let total = dy.len() as f32;
        let dx_max: f32 = max_pool2d_backward(&g, &out.argmax, &dy).data().iter().sum();
        let dx_avg: f32 = avg_pool2d_backward(&g, &dy).data().iter().sum();
        prop_assert!((dx_max - total).abs() < 1e-3 && (dx_avg - total).abs() < 1e-2 * total.max(1.0));
    }
}
