//! Dropout with a given mask, the plain way: `y = x · mask`, where each mask value is 0 (the unit
//! is dropped) or 1 / (1 - rate) (kept, and scaled so the expected sum is unchanged: inverted
//! dropout, as Keras). Drawing the mask is the training loop's business; here it is an input, so
//! the op is a fixed linear map and its gradient is `dx = dy · mask`.

/// y = x · mask, element by element.
pub fn dropout_forward(x: &[f64], mask: &[f64]) -> Vec<f64> {
    assert_eq!(x.len(), mask.len(), "reference dropout forward: x and mask");
    x.iter().zip(mask).map(|(a, m)| a * m).collect()
}

/// dx = dy · mask.
pub fn dropout_backward(mask: &[f64], dy: &[f64]) -> Vec<f64> {
    assert_eq!(
        dy.len(),
        mask.len(),
        "reference dropout backward: dy and mask"
    );
    dy.iter().zip(mask).map(|(d, m)| d * m).collect()
}
