//! `Images`: a stack of images kept as bytes, channels last (NHWC), scaled to f32 one batch at a
//! time.
//!
//! Fashion-MNIST's 60,000 training images take 47 MB as u8 but 188 MB as f32 (CIFAR-10's 50,000
//! take 154 MB and 614 MB), so the loaders keep the bytes and a training loop scales each batch
//! as it needs it (`to_nhwc_f32(&batch)`), the way Keras users write `x / 255.0`.
//!
//! # Layout
//! `pixels[((i * rows + r) * cols + c) * channels + k]` is channel `k` of the pixel at row `r`,
//! column `c` of image `i`: image after image, row after row, the channels of one pixel side by
//! side. Grayscale sets (the IDX ones) have one channel; CIFAR-10 has three (R, G, B).

use convlab_tensor::Tensor;

use crate::error::DatasetError;

/// `n` images of `rows x cols` pixels of `channels` bytes each: an [N, H, W, C] u8 array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Images {
    pub n: usize,
    pub rows: usize,
    pub cols: usize,
    /// 1 for grayscale, 3 for RGB.
    pub channels: usize,
    pub pixels: Vec<u8>,
}

impl Images {
    /// Grayscale images (one channel): checks that `pixels` holds exactly `n * rows * cols`
    /// bytes.
    pub fn new(
        n: usize,
        rows: usize,
        cols: usize,
        pixels: Vec<u8>,
    ) -> Result<Images, DatasetError> {
        Images::with_channels(n, rows, cols, 1, pixels)
    }

    /// Images of `channels` bytes a pixel, channels last: checks that `pixels` holds exactly
    /// `n * rows * cols * channels` bytes and that there is at least one channel.
    pub fn with_channels(
        n: usize,
        rows: usize,
        cols: usize,
        channels: usize,
        pixels: Vec<u8>,
    ) -> Result<Images, DatasetError> {
        let expected = n
            .checked_mul(rows)
            .and_then(|x| x.checked_mul(cols))
            .and_then(|x| x.checked_mul(channels));
        if channels == 0 || expected != Some(pixels.len()) {
            return Err(DatasetError::argument(
                "Images::with_channels",
                format!(
                    "{n} images of {rows}x{cols}x{channels} do not take {} bytes",
                    pixels.len()
                ),
            ));
        }
        Ok(Images {
            n,
            rows,
            cols,
            channels,
            pixels,
        })
    }

    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// [N, H, W, C]. (Keras reports `(60000, 28, 28)` for MNIST's `x_train`, without the channel
    /// axis; here it is always there, so one shape rule covers every dataset.)
    pub fn shape(&self) -> [usize; 4] {
        [self.n, self.rows, self.cols, self.channels]
    }

    /// [H, W, C]: the shape of one image, what a model's input layer takes.
    pub fn item_shape(&self) -> [usize; 3] {
        [self.rows, self.cols, self.channels]
    }

    /// Bytes in one image: `rows * cols * channels`.
    pub fn image_len(&self) -> usize {
        self.rows * self.cols * self.channels
    }

    /// The bytes of image `i` ([H, W, C], `image_len()` of them), or `None` past the end.
    pub fn image(&self, i: usize) -> Option<&[u8]> {
        let size = self.image_len();
        self.pixels
            .get(i.checked_mul(size)?..(i.checked_add(1)?).checked_mul(size)?)
    }

    /// All images scaled to [0, 1] as an [N, H, W, C] tensor (`x_train / 255.0`).
    pub fn to_nhwc_f32_all(&self) -> Result<Tensor, DatasetError> {
        let data = scale_to_unit(&self.pixels);
        Ok(Tensor::new(&self.shape(), data)?)
    }

    /// The images at `indices`, in that order, scaled to [0, 1] as a [len, H, W, C] tensor: one
    /// batch for a training step.
    pub fn to_nhwc_f32(&self, indices: &[usize]) -> Result<Tensor, DatasetError> {
        let mut data = Vec::with_capacity(indices.len() * self.image_len());
        for &i in indices {
            let Some(image) = self.image(i) else {
                return Err(index_error("Images::to_nhwc_f32", i, self.n));
            };
            data.extend(image.iter().map(|&p| scale(p)));
        }
        let [_, h, w, c] = self.shape();
        Ok(Tensor::new(&[indices.len(), h, w, c], data)?)
    }

    /// A new `Images` holding the images at `indices` (for example a validation split), still u8.
    pub fn select(&self, indices: &[usize]) -> Result<Images, DatasetError> {
        let mut pixels = Vec::with_capacity(indices.len() * self.image_len());
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
            channels: self.channels,
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
