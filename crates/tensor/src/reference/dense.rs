//! A dense (fully connected) layer, the plain way: `y[n, m] = b[m] + Σ_k x[n, k] · w[k, m]`.
//! N batch, K inputs, M units; w (K, M) as Keras stores a Dense kernel.

use super::expect_len;

/// y (N, M) from x (N, K), w (K, M) and b (M) if the layer has one.
pub fn dense_forward(x: &[f64], w: &[f64], b: Option<&[f64]>, [n, k, m]: [usize; 3]) -> Vec<f64> {
    expect_len("dense forward", "x", x, &[n, k]);
    expect_len("dense forward", "w", w, &[k, m]);
    let mut y = vec![0.0; n * m];
    for ni in 0..n {
        for mi in 0..m {
            let mut sum = b.map_or(0.0, |b| b[mi]);
            for ki in 0..k {
                sum += x[ni * k + ki] * w[ki * m + mi];
            }
            y[ni * m + mi] = sum;
        }
    }
    y
}

/// dx (N, K) = dy · wᵀ.
pub fn dense_backward_x(w: &[f64], dy: &[f64], [n, k, m]: [usize; 3]) -> Vec<f64> {
    expect_len("dense backward_x", "w", w, &[k, m]);
    expect_len("dense backward_x", "dy", dy, &[n, m]);
    let mut dx = vec![0.0; n * k];
    for ni in 0..n {
        for ki in 0..k {
            for mi in 0..m {
                dx[ni * k + ki] += dy[ni * m + mi] * w[ki * m + mi];
            }
        }
    }
    dx
}

/// dw (K, M) = xᵀ · dy.
pub fn dense_backward_w(x: &[f64], dy: &[f64], [n, k, m]: [usize; 3]) -> Vec<f64> {
    expect_len("dense backward_w", "x", x, &[n, k]);
    expect_len("dense backward_w", "dy", dy, &[n, m]);
    let mut dw = vec![0.0; k * m];
    for ni in 0..n {
        for ki in 0..k {
            for mi in 0..m {
                dw[ki * m + mi] += x[ni * k + ki] * dy[ni * m + mi];
            }
        }
    }
    dw
}

/// db (M): the sum of dy over the batch.
pub fn dense_backward_b(dy: &[f64], [n, _, m]: [usize; 3]) -> Vec<f64> {
    expect_len("dense backward_b", "dy", dy, &[n, m]);
    let mut db = vec![0.0; m];
    for ni in 0..n {
        for mi in 0..m {
            db[mi] += dy[ni * m + mi];
        }
    }
    db
}
