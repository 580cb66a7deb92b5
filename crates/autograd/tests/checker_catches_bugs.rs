//! A check that cannot fail is not a check: here the gradient checker is handed deliberately
//! wrong backward passes and must reject every one, while the correct op passes the same check.

use convlab_autograd::gradcheck::{gradcheck, uniform, GradcheckOptions};
use convlab_autograd::{Backward, Tape, Var};
use convlab_tensor::conv2d::{conv2d_backward, conv2d_forward};
use convlab_tensor::{Conv2dGeometry, ConvAlgorithm, Padding, Tensor};

#[derive(Clone, Copy)]
enum Bug {
    None,
    /// dx moved one pixel to the right (an off-by-one in the input index).
    DxShiftedOnePixel,
    /// dw computed as if the stride were 1 (the stride term dropped from the input index).
    StrideDroppedInDw,
}

struct ConvUnderTest {
    g: Conv2dGeometry,
    x: Tensor,
    w: Tensor,
    bug: Bug,
}

impl Backward for ConvUnderTest {
    fn name(&self) -> &'static str {
        "conv2d under test"
    }
    fn backward(&self, dy: &Tensor, _needs: &[bool]) -> Vec<Option<Tensor>> {
        let grads = conv2d_backward(&self.g, &self.x, &self.w, dy, ConvAlgorithm::Im2col, true);
        let (mut dx, mut dw) = (grads.dx.expect("asked for dx"), grads.dw);
        let [n, h, w, c] = self.g.x_shape();
        match self.bug {
            Bug::None => {}
            Bug::DxShiftedOnePixel => {
                let original = dx.data().to_vec();
                let out = dx.data_mut();
                for p in 0..n * h {
                    for ix in 0..w {
                        for ci in 0..c {
                            out[(p * w + ix) * c + ci] = if ix == 0 {
                                0.0
                            } else {
                                original[(p * w + ix - 1) * c + ci]
                            };
                        }
                    }
                }
            }
            Bug::StrideDroppedInDw => {
                // Recompute dw by the definition but with stride 1 in the input index.
                let g = &self.g;
                let (x, dyv) = (self.x.data(), dy.data());
                let out = dw.data_mut();
                out.fill(0.0);
                for ni in 0..g.n {
                    for oy in 0..g.ho {
                        for ox in 0..g.wo {
                            for ky in 0..g.kh {
                                for kx in 0..g.kw {
                                    let (Some(iy), Some(ix)) = (
                                        (oy + ky).checked_sub(g.pad_top).filter(|&v| v < g.h),
                                        (ox + kx).checked_sub(g.pad_left).filter(|&v| v < g.w),
                                    ) else {
                                        continue;
                                    };
                                    for ci in 0..g.c {
                                        for co in 0..g.co {
                                            out[((ky * g.kw + kx) * g.c + ci) * g.co + co] += x
                                                [((ni * g.h + iy) * g.w + ix) * g.c + ci]
                                                * dyv[((ni * g.ho + oy) * g.wo + ox) * g.co + co];
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        vec![Some(dx), Some(dw)]
    }
}

fn conv_under_test(tape: &mut Tape, v: &[Var], stride: usize, bug: Bug) -> Var {
    let g =
        Conv2dGeometry::new(v[0].shape(), v[1].shape(), (stride, stride), Padding::Same).unwrap();
    let y = conv2d_forward(&g, v[0].value(), v[1].value(), None, ConvAlgorithm::Im2col);
    tape.record(y, &[&v[0], &v[1]], || ConvUnderTest {
        g,
        x: v[0].value().clone(),
        w: v[1].value().clone(),
        bug,
    })
}

fn inputs() -> [Tensor; 2] {
    [
        Tensor::new(&[2, 6, 7, 3], uniform(2 * 6 * 7 * 3, 1)).unwrap(),
        Tensor::new(&[3, 3, 3, 4], uniform(3 * 3 * 3 * 4, 2)).unwrap(),
    ]
}

const OPTS: GradcheckOptions = GradcheckOptions {
    step: 0.5,
    atol: 1e-4,
    rtol: 1e-3,
    seed: 5,
    norm_tolerance: None,
    kink_tolerance: None,
};

#[test]
fn the_correct_backward_passes() {
    for stride in [1, 2] {
        let report = gradcheck(
            |t, v| conv_under_test(t, v, stride, Bug::None),
            &inputs(),
            OPTS,
        );
        assert!(report.passed(), "stride {stride}\n{report}");
    }
}

#[test]
fn a_dx_shifted_by_one_pixel_fails() {
    let report = gradcheck(
        |t, v| conv_under_test(t, v, 1, Bug::DxShiftedOnePixel),
        &inputs(),
        OPTS,
    );
    assert!(
        !report.inputs[0].passed,
        "shifted dx was not caught:\n{report}"
    );
    assert!(report.inputs[1].passed, "dw was fine:\n{report}");
    // Not marginal: the worst element is off by far more than the tolerance.
    assert!(report.inputs[0].norm_rel_error > 0.5, "{report}");
}

#[test]
fn a_dropped_stride_term_fails() {
    let report = gradcheck(
        |t, v| conv_under_test(t, v, 2, Bug::StrideDroppedInDw),
        &inputs(),
        OPTS,
    );
    assert!(
        !report.inputs[1].passed,
        "dropped stride was not caught:\n{report}"
    );
    assert!(report.inputs[1].norm_rel_error > 0.5, "{report}");
}
