//! An 8-bit RGB image in memory, its PNG encoding, and placing images side by side.

use crate::draw::DrawError;

/// The largest width or height [`RgbImage::new`] accepts.
pub const MAX_SIDE: usize = 16_384;
/// The largest number of pixels [`RgbImage::new`] accepts (192 MiB of RGB), so that a wrong scale
/// factor is an error rather than an attempt to allocate gigabytes.
pub const MAX_PIXELS: usize = 1 << 26;

/// Pixels in row-major order, three bytes (red, green, blue) each: pixel (x, y) starts at byte
/// `3 * (y * width + x)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RgbImage {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

impl RgbImage {
    /// A `width` x `height` image filled with `colour`; an error if either side is zero or the
    /// image is larger than [`MAX_SIDE`] / [`MAX_PIXELS`].
    pub fn new(width: usize, height: usize, colour: [u8; 3]) -> Result<Self, DrawError> {
        if width == 0 || height == 0 {
            return Err(DrawError::Empty { width, height });
        }
        if width > MAX_SIDE || height > MAX_SIDE || width * height > MAX_PIXELS {
            return Err(DrawError::TooLarge { width, height });
        }
        Ok(Self {
            width,
            height,
            pixels: colour.repeat(width * height),
        })
    }

    pub fn width(&self) -> usize {
        self.width
    }

    pub fn height(&self) -> usize {
        self.height
    }

    /// The raw RGB bytes, row-major.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// The colour at (x, y), or `None` outside the image.
    pub fn pixel(&self, x: usize, y: usize) -> Option<[u8; 3]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = 3 * (y * self.width + x);
        Some([self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]])
    }

    /// Paints the rectangle with top-left corner (x, y); the parts outside the image are skipped.
    pub fn fill_rect(&mut self, x: usize, y: usize, w: usize, h: usize, colour: [u8; 3]) {
        let x_end = x.saturating_add(w).min(self.width);
        let y_end = y.saturating_add(h).min(self.height);
        for row in y.min(y_end)..y_end {
            let start = 3 * (row * self.width + x.min(x_end));
            let end = 3 * (row * self.width + x_end);
            for px in self.pixels[start..end].chunks_exact_mut(3) {
                px.copy_from_slice(&colour);
            }
        }
    }

    /// Copies `other` so that its top-left corner lands at (x, y), clipped to this image.
    pub fn paste(&mut self, other: &RgbImage, x: usize, y: usize) {
        let w = other.width.min(self.width.saturating_sub(x));
        let h = other.height.min(self.height.saturating_sub(y));
        for row in 0..h {
            let src = 3 * row * other.width;
            let dst = 3 * ((y + row) * self.width + x);
            self.pixels[dst..dst + 3 * w].copy_from_slice(&other.pixels[src..src + 3 * w]);
        }
    }

    /// The image as a PNG file's bytes (8-bit RGB, no alpha).
    pub fn to_png(&self) -> Result<Vec<u8>, DrawError> {
        let mut out = Vec::new();
        // Both sides are at most MAX_SIDE, so they fit u32.
        let mut encoder = png::Encoder::new(&mut out, self.width as u32, self.height as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&self.pixels)?;
        writer.finish()?;
        Ok(out)
    }
}

/// `left` and `right` next to each other with `gap` pixels of `background` between them, each
/// centred vertically (for the input image beside its feature-map grid).
pub fn side_by_side(
    left: &RgbImage,
    right: &RgbImage,
    gap: usize,
    background: [u8; 3],
) -> Result<RgbImage, DrawError> {
    let width = left.width.saturating_add(gap).saturating_add(right.width);
    let height = left.height.max(right.height);
    let mut out = RgbImage::new(width, height, background)?;
    out.paste(left, 0, (height - left.height) / 2);
    out.paste(right, left.width + gap, (height - right.height) / 2);
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Decodes PNG bytes with the png crate: (width, height, colour type, RGB bytes).
    pub(crate) fn decode(bytes: &[u8]) -> (u32, u32, png::ColorType, Vec<u8>) {
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (info.width, info.height, info.color_type, buf)
    }

    #[test]
    fn png_round_trip_keeps_size_type_and_pixels() {
        let mut img = RgbImage::new(5, 3, [255, 255, 255]).unwrap();
        img.fill_rect(1, 1, 2, 1, [10, 20, 30]);
        let (w, h, colour, pixels) = decode(&img.to_png().unwrap());
        assert_eq!((w, h, colour), (5, 3, png::ColorType::Rgb));
        assert_eq!(pixels, img.pixels());
        assert_eq!(img.pixel(2, 1), Some([10, 20, 30]));
        assert_eq!(img.pixel(3, 1), Some([255, 255, 255]));
        assert_eq!(img.pixel(5, 0), None);
    }

    #[test]
    fn sizes_are_limited() {
        assert!(matches!(
            RgbImage::new(0, 4, [0; 3]),
            Err(DrawError::Empty { .. })
        ));
        assert!(matches!(
            RgbImage::new(MAX_SIDE + 1, 1, [0; 3]),
            Err(DrawError::TooLarge { .. })
        ));
        assert!(matches!(
            RgbImage::new(MAX_SIDE, MAX_SIDE, [0; 3]),
            Err(DrawError::TooLarge { .. })
        ));
    }

    #[test]
    fn drawing_outside_is_clipped() {
        let mut img = RgbImage::new(4, 4, [0; 3]).unwrap();
        img.fill_rect(3, 3, 10, 10, [1, 1, 1]);
        img.fill_rect(9, 9, 2, 2, [2, 2, 2]);
        img.fill_rect(usize::MAX, 0, usize::MAX, 1, [3, 3, 3]);
        let patch = RgbImage::new(3, 3, [7; 3]).unwrap();
        img.paste(&patch, 2, 0);
        img.paste(&patch, 10, 10);
        assert_eq!(img.pixel(3, 3), Some([1, 1, 1]));
        assert_eq!(img.pixel(3, 0), Some([7, 7, 7]));
        assert_eq!(img.pixel(1, 0), Some([0, 0, 0]));
    }

    #[test]
    fn side_by_side_centres_the_shorter_image() {
        let left = RgbImage::new(2, 2, [1; 3]).unwrap();
        let right = RgbImage::new(3, 6, [2; 3]).unwrap();
        let both = side_by_side(&left, &right, 4, [9; 3]).unwrap();
        assert_eq!((both.width(), both.height()), (9, 6));
        assert_eq!(both.pixel(0, 1), Some([9; 3]));
        assert_eq!(both.pixel(0, 2), Some([1; 3]));
        assert_eq!(both.pixel(3, 2), Some([9; 3]));
        assert_eq!(both.pixel(6, 0), Some([2; 3]));
    }
}
