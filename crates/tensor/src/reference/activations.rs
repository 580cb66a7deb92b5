//! ReLU and softmax, the plain way.
//!
//! ```text
//! relu:    y = max(x, 0)                       dx = dy where x > 0, else 0
//! softmax: y[r, j] = e^(x[r, j] - max_r) / Σ_i e^(x[r, i] - max_r)   (over the last axis)
//!          dx[r, j] = y[r, j] · (dy[r, j] - Σ_i dy[r, i] · y[r, i])
//! ```
//! Subtracting the row's maximum changes nothing mathematically and keeps e^ from overflowing.

/// y = max(x, 0), element by element.
pub fn relu_forward(x: &[f64]) -> Vec<f64> {
    x.iter().map(|&v| if v > 0.0 { v } else { 0.0 }).collect()
}

/// dx from the forward's input x and dy.
pub fn relu_backward(x: &[f64], dy: &[f64]) -> Vec<f64> {
    assert_eq!(x.len(), dy.len(), "reference relu backward: x and dy");
    x.iter()
        .zip(dy)
        .map(|(&v, &d)| if v > 0.0 { d } else { 0.0 })
        .collect()
}

/// Softmax of each row of `cols` values.
pub fn softmax_forward(x: &[f64], cols: usize) -> Vec<f64> {
    assert!(
        cols > 0 && x.len().is_multiple_of(cols),
        "reference softmax: {} values in rows of {cols}",
        x.len()
    );
    let mut y = vec![0.0; x.len()];
    for (x_row, y_row) in x.chunks(cols).zip(y.chunks_mut(cols)) {
        let max = x_row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut sum = 0.0;
        for (yj, &xj) in y_row.iter_mut().zip(x_row) {
            *yj = (xj - max).exp();
            sum += *yj;
        }
        y_row.iter_mut().for_each(|yj| *yj /= sum);
    }
    y
}

/// dx from the forward's output y and dy, row by row.
pub fn softmax_backward(y: &[f64], dy: &[f64], cols: usize) -> Vec<f64> {
    assert_eq!(y.len(), dy.len(), "reference softmax backward: y and dy");
    let mut dx = vec![0.0; y.len()];
    for ((y_row, dy_row), dx_row) in y.chunks(cols).zip(dy.chunks(cols)).zip(dx.chunks_mut(cols)) {
        let dot: f64 = y_row.iter().zip(dy_row).map(|(a, b)| a * b).sum();
        for j in 0..cols {
            dx_row[j] = y_row[j] * (dy_row[j] - dot);
        }
    }
    dx
}
