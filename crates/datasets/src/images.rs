//! `Images`: a stack of grayscale images kept as bytes, scaled to f32 one batch at a time.
//!
//! Fashion-MNIST's 60,000 training images take 47 MB as u8 but 188 MB as f32, so the loaders
//! keep the bytes and a training loop scales each batch as it needs it (`to_nhwc_f32(&batch)`),
//! the way Keras users write `x / 255.0`.

use convlab_tensor::Tensor;

use crate::error::DatasetError;

/// `n` images of `rows x cols` bytes, image after image, row after row: an [N, H, W] u8 array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Images {
    pub n: usize,
    pub rows: usize,
    pub cols: usize,
    pub pixels: Vec<u8>,
}

impl Images {
    /// Checks that `pixels` holds exactly `n * rows * cols` bytes.
    pub fn new(
        n: usize,
        rows: usize,
        cols: usize,
        pixels: Vec<u8>,
    ) -> Result<Images, DatasetError> {
        let expected = n.checked_mul(rows).and_then(|x| x.checked_mul(cols));
        if expected != Some(pixels.len()) {
            return Err(DatasetError::argument(
                "Images::new",
                format!(
                    "{n} images of {rows}x{cols} do not take {} bytes",
                    pixels.len()
                ),
            ));
        }
        Ok(Images {
            n,
            rows,
            cols,
            pixels,
        })
    }

    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// [N, H, W], as Keras reports `x_train.shape`.
    pub fn shape(&self) -> [usize; 3] {
        [self.n, self.rows, self.cols]
    }

    /// The bytes of image `i`, `rows * cols` of them, or `None` past the end.
    pub fn image(&self, i: usize) -> Option<&[u8]> {
        let size = self.rows * self.cols;
        self.pixels
            .get(i.checked_mul(size)?..(i + 1).checked_mul(size)?)
    }

    /// All images scaled to [0, 1] as an [N, H, W, 1] tensor (`x_train[..., None] / 255.0`).
    pub fn to_nhwc_f32_all(&self) -> Result<Tensor, DatasetError> {
        let data = scale_to_unit(&self.pixels);
        Ok(Tensor::new(&[self.n, self.rows, self.cols, 1], data)?)
    }

    /// The images at `indices`, in that order, scaled to [0, 1] as a [len, H, W, 1] tensor: one
    /// batch for a training step.
    pub fn to_nhwc_f32(&self, indices: &[usize]) -> Result<Tensor, DatasetError> {
        let size = self.rows * self.cols;
        let mut data = Vec::with_capacity(indices.len() * size);
        for &i in indices {
            let Some(image) = self.image(i) else {
                return Err(index_error("Images::to_nhwc_f32", i, self.n));
            };
            data.extend(image.iter().map(|&p| scale(p)));
        }
        Ok(Tensor::new(
            &[indices.len(), self.rows, self.cols, 1],
            data,
        )?)
    }

    /// A new `Images` holding the images at `indices` (for example a validation split), still u8.
    pub fn select(&self, indices: &[usize]) -> Result<Images, DatasetError> {
        let mut pixels = Vec::with_capacity(indices.len() * self.rows * self.cols);
        for &i in indices {
            let Some(image) = self.image(i) else {
                return Err(index_error("Images::select", i, self.n));
            };
            pixels.extend_from_slice(image);
        }
        Ok(Images {
            n: indices.len(),
            rows: self.rows,
            cols: self.cols,
            pixels,
        })
    }
}

/// The labels at `indices`, in that order.
pub fn select_labels(labels: &[u8], indices: &[usize]) -> Result<Vec<u8>, DatasetError> {
    indices
        .iter()
        .map(|&i| {
            labels
                .get(i)
                .copied()
                .ok_or_else(|| index_error("select_labels", i, labels.len()))
        })
        .collect()
}

/// A pixel byte as a float in [0, 1]: x / 255, as Keras examples scale.
pub fn scale(pixel: u8) -> f32 {
    pixel as f32 / 255.0
}

/// Every byte scaled by `scale`.
pub fn scale_to_unit(pixels: &[u8]) -> Vec<f32> {
    pixels.iter().map(|&p| scale(p)).collect()
}

fn index_error(what: &'static str, index: usize, len: usize) -> DatasetError {
    DatasetError::argument(
        what,
        format!("index {index} is out of range for {len} items"),
    )
}
