//! A grid of small 2-D arrays drawn as coloured squares: the chapter's filter and feature-map figures.
//!
//! # Layout
//! Tile `i` goes to row `i / cols`, column `i % cols`. Each value becomes a `scale` x `scale`
//! square (nearest neighbour, so a 3x3 kernel at scale 10 is 30x30 pixels). Cells are as large as
//! the largest tile, with `gap` pixels of background around and between them:
//!
//! ```text
//! width  = cols * max_w * scale + (cols + 1) * gap
//! height = rows * max_h * scale + (rows + 1) * gap
//! ```

use crate::draw::colormap::{grey, viridis};
use crate::draw::{DrawError, RgbImage};

/// One tile: `values` holds `height` x `width` numbers, row-major.
#[derive(Clone, Copy, Debug)]
pub struct Tile<'a> {
    pub values: &'a [f32],
    pub height: usize,
    pub width: usize,
}

impl<'a> Tile<'a> {
    pub fn new(values: &'a [f32], height: usize, width: usize) -> Self {
        Self {
            values,
            height,
            width,
        }
    }
}

/// How values map to the colour scale.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ColorScale {
    /// One range for every tile, so tiles can be compared (the chapter's filters: -0.5..0.5).
    /// Values outside are clamped to the ends.
    Fixed { vmin: f32, vmax: f32 },
    /// Each tile from its own finite minimum to maximum, as matplotlib's `imshow` does by default
    /// (the chapter's feature maps). A constant tile draws in the middle colour.
    PerTile,
}

/// The colours the scale runs through, low to high.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Palette {
    Viridis,
    /// Black to white.
    Grey,
    /// White to black: matplotlib's `gray_r`, which the chapter uses for Fashion-MNIST images.
    GreyReversed,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GridOpts {
    /// Pixels per value along each side (nearest-neighbour upscaling); at least 1.
    pub scale: usize,
    /// Background pixels around and between tiles.
    pub gap: usize,
    pub background: [u8; 3],
    pub color_scale: ColorScale,
    pub palette: Palette,
}

/// A light grey that separates tiles without competing with viridis's dark end.
const LIGHT_GREY: [u8; 3] = [235, 235, 235];

impl GridOpts {
    /// The chapter's filter figure: viridis fixed at -0.5..0.5, a 3x3 kernel drawn 30x30.
    pub fn filters() -> Self {
        Self {
            scale: 10,
            gap: 4,
            background: LIGHT_GREY,
            color_scale: ColorScale::Fixed {
                vmin: -0.5,
                vmax: 0.5,
            },
            palette: Palette::Viridis,
        }
    }

    /// The chapter's feature-map figure: viridis scaled per map, a 28x28 map drawn 84x84.
    pub fn feature_maps() -> Self {
        Self {
            scale: 3,
            color_scale: ColorScale::PerTile,
            ..Self::filters()
        }
    }

    /// An input image with pixels in 0..1, drawn like `imshow(x, cmap='gray_r')`.
    pub fn input_image() -> Self {
        Self {
            color_scale: ColorScale::Fixed {
                vmin: 0.0,
                vmax: 1.0,
            },
            palette: Palette::GreyReversed,
            ..Self::feature_maps()
        }
    }
}

impl Default for GridOpts {
    fn default() -> Self {
        Self::filters()
    }
}

/// Draws `tiles` in a `rows` x `cols` grid (see the module doc for the layout). Cells past the last
/// tile stay background. NaN values draw as [`crate::draw::NAN_COLOUR`].
///
/// Errors: a tile whose length is not `height * width` or that has a zero side, more tiles than
/// cells, an empty or non-finite fixed range, a zero scale, or an image over the size limits.
pub fn image_grid(
    tiles: &[Tile],
    rows: usize,
    cols: usize,
    opts: &GridOpts,
) -> Result<RgbImage, DrawError> {
    check_args(tiles, rows, cols, opts)?;
    let max_h = tiles.iter().map(|t| t.height).max().unwrap_or(1);
    let max_w = tiles.iter().map(|t| t.width).max().unwrap_or(1);
    let cell_h = max_h.saturating_mul(opts.scale);
    let cell_w = max_w.saturating_mul(opts.scale);
    let width = span(cols, cell_w, opts.gap);
    let height = span(rows, cell_h, opts.gap);
    let mut img = RgbImage::new(width, height, opts.background)?;

    for (i, tile) in tiles.iter().enumerate() {
        let (row, col) = (i / cols, i % cols);
        // Smaller tiles sit in the middle of their cell.
        let x0 = opts.gap + col * (cell_w + opts.gap) + (cell_w - tile.width * opts.scale) / 2;
        let y0 = opts.gap + row * (cell_h + opts.gap) + (cell_h - tile.height * opts.scale) / 2;
        let (lo, hi) = match opts.color_scale {
            ColorScale::Fixed { vmin, vmax } => (vmin, vmax),
            ColorScale::PerTile => finite_range(tile.values),
        };
        for (k, &v) in tile.values.iter().enumerate() {
            let (r, c) = (k / tile.width, k % tile.width);
            let colour = paint(normalise(v, lo, hi), opts.palette);
            img.fill_rect(
                x0 + c * opts.scale,
                y0 + r * opts.scale,
                opts.scale,
                opts.scale,
                colour,
            );
        }
    }
    Ok(img)
}

fn check_args(tiles: &[Tile], rows: usize, cols: usize, opts: &GridOpts) -> Result<(), DrawError> {
    if opts.scale == 0 {
        return Err(DrawError::ZeroScale(opts.scale));
    }
    if let ColorScale::Fixed { vmin, vmax } = opts.color_scale {
        // `!(vmin < vmax)` also catches NaN.
        if !(vmin.is_finite() && vmax.is_finite() && vmin < vmax) {
            return Err(DrawError::BadRange { vmin, vmax });
        }
    }
    if tiles.len() > rows.saturating_mul(cols) {
        return Err(DrawError::GridTooSmall {
            tiles: tiles.len(),
            rows,
            cols,
        });
    }
    for (index, t) in tiles.iter().enumerate() {
        if t.height == 0 || t.width == 0 || t.height.checked_mul(t.width) != Some(t.values.len()) {
            return Err(DrawError::TileShape {
                index,
                height: t.height,
                width: t.width,
                len: t.values.len(),
            });
        }
    }
    Ok(())
}

/// `n` cells of `cell` pixels with `gap` before, between and after them; saturates so that a huge
/// request reaches `RgbImage::new` as a too-large size instead of overflowing.
fn span(n: usize, cell: usize, gap: usize) -> usize {
    n.saturating_mul(cell.saturating_add(gap))
        .saturating_add(gap)
}

/// The smallest and largest finite values; (0, 0) when there are none.
fn finite_range(values: &[f32]) -> (f32, f32) {
    let mut finite = values.iter().copied().filter(|v| v.is_finite());
    let first = finite.next().unwrap_or(0.0);
    finite.fold((first, first), |(lo, hi), v| (lo.min(v), hi.max(v)))
}

/// Position of `v` on the scale lo..hi as 0..1 (unclamped; the palettes clamp). An empty range
/// (a constant tile) puts its value in the middle rather than dividing by zero; infinities still
/// go to the ends.
fn normalise(v: f32, lo: f32, hi: f32) -> f32 {
    if hi > lo {
        (v - lo) / (hi - lo)
    } else if v > hi {
        1.0
    } else if v < lo {
        0.0
    } else if v.is_nan() {
        f32::NAN
    } else {
        0.5
    }
}

fn paint(t: f32, palette: Palette) -> [u8; 3] {
    match palette {
        Palette::Viridis => viridis(t),
        Palette::Grey => grey(t),
        Palette::GreyReversed => grey(1.0 - t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::draw::raster::tests::decode;
    use crate::draw::NAN_COLOUR;

    /// The colour at the centre of value (r, c) of tile (row, col) in a grid of uniform tiles.
    fn value_pixel(
        img: &RgbImage,
        o: &GridOpts,
        tile: (usize, usize),
        h: usize,
        w: usize,
        rc: (usize, usize),
    ) -> [u8; 3] {
        let x = o.gap + tile.1 * (w * o.scale + o.gap) + rc.1 * o.scale + o.scale / 2;
        let y = o.gap + tile.0 * (h * o.scale + o.gap) + rc.0 * o.scale + o.scale / 2;
        img.pixel(x, y).unwrap()
    }

    #[test]
    fn chapter_filter_grid_has_the_expected_size_and_decodes() {
        // 32 kernels of 3x3 as 2 rows of 16, like the chapter's `plt.subplots(2, 16)`.
        let weights: Vec<f32> = (0..32 * 9).map(|i| (i as f32 / 288.0) - 0.5).collect();
        let tiles: Vec<Tile> = weights.chunks(9).map(|k| Tile::new(k, 3, 3)).collect();
        for scale in [1, 7, 10] {
            let opts = GridOpts {
                scale,
                ..GridOpts::filters()
            };
            let img = image_grid(&tiles, 2, 16, &opts).unwrap();
            let (w, h) = (16 * 3 * scale + 17 * opts.gap, 2 * 3 * scale + 3 * opts.gap);
            assert_eq!((img.width(), img.height()), (w, h));
            let (pw, ph, colour, _) = decode(&img.to_png().unwrap());
            assert_eq!(
                (pw as usize, ph as usize, colour),
                (w, h, png::ColorType::Rgb)
            );
        }
    }

    #[test]
    fn fixed_scale_maps_ends_and_clamps() {
        let values = [-0.5, 0.0, 0.5, -2.0];
        let opts = GridOpts::filters();
        let img = image_grid(&[Tile::new(&values, 2, 2)], 1, 1, &opts).unwrap();
        let at = |r, c| value_pixel(&img, &opts, (0, 0), 2, 2, (r, c));
        assert_eq!(at(0, 0), viridis(0.0));
        assert_eq!(at(0, 1), viridis(0.5));
        assert_eq!(at(1, 0), viridis(1.0));
        assert_eq!(at(1, 1), viridis(0.0));
        // The gap is background.
        assert_eq!(img.pixel(0, 0), Some(opts.background));
    }

    #[test]
    fn nan_gets_the_flag_colour_and_does_not_spoil_the_scale() {
        let values = [f32::NAN, 1.0, 3.0, 2.0];
        let opts = GridOpts::feature_maps();
        let img = image_grid(&[Tile::new(&values, 2, 2)], 1, 1, &opts).unwrap();
        let at = |r, c| value_pixel(&img, &opts, (0, 0), 2, 2, (r, c));
        assert_eq!(at(0, 0), NAN_COLOUR);
        assert_eq!(at(0, 1), viridis(0.0));
        assert_eq!(at(1, 0), viridis(1.0));
        assert_eq!(at(1, 1), viridis(0.5));
    }

    #[test]
    fn constant_and_all_nan_tiles_draw_flat() {
        let zeros = [0.0; 9];
        let nans = [f32::NAN; 4];
        let with_inf = [5.0, f32::INFINITY, f32::NEG_INFINITY, 5.0];
        let tiles = [
            Tile::new(&zeros, 3, 3),
            Tile::new(&nans, 2, 2),
            Tile::new(&with_inf, 2, 2),
        ];
        let opts = GridOpts::feature_maps();
        let img = image_grid(&tiles, 1, 3, &opts).unwrap();
        for r in 0..3 {
            for c in 0..3 {
                assert_eq!(value_pixel(&img, &opts, (0, 0), 3, 3, (r, c)), viridis(0.5));
            }
        }
        // The 2x2 tiles sit centred in 3x3 cells: their first value starts half a value in.
        let x0 = opts.gap + 2 * (9 + opts.gap) + (9 - 6) / 2;
        let y0 = opts.gap + (9 - 6) / 2;
        assert_eq!(img.pixel(x0, y0), Some(viridis(0.5)));
        assert_eq!(img.pixel(x0 + 3, y0), Some(viridis(1.0)));
        assert_eq!(img.pixel(x0, y0 + 3), Some(viridis(0.0)));
    }

    #[test]
    fn grey_input_image() {
        let pixels = [0.0, 1.0];
        let opts = GridOpts::input_image();
        let img = image_grid(&[Tile::new(&pixels, 1, 2)], 1, 1, &opts).unwrap();
        assert_eq!(value_pixel(&img, &opts, (0, 0), 1, 2, (0, 0)), [255; 3]);
        assert_eq!(value_pixel(&img, &opts, (0, 0), 1, 2, (0, 1)), [0; 3]);
        let plain = GridOpts {
            palette: Palette::Grey,
            ..opts
        };
        let img = image_grid(&[Tile::new(&pixels, 1, 2)], 1, 1, &plain).unwrap();
        assert_eq!(value_pixel(&img, &plain, (0, 0), 1, 2, (0, 0)), [0; 3]);
    }

    #[test]
    fn bad_arguments_are_errors() {
        let v = [0.0; 9];
        let ok = [Tile::new(&v, 3, 3)];
        let opts = GridOpts::filters();
        let err = |r| matches!(r, Err(DrawError::TileShape { index: 0, .. }));
        assert!(err(image_grid(&[Tile::new(&v, 2, 2)], 1, 1, &opts)));
        assert!(err(image_grid(&[Tile::new(&[], 0, 3)], 1, 1, &opts)));
        assert!(err(image_grid(
            &[Tile::new(&v, usize::MAX, 2)],
            1,
            1,
            &opts
        )));
        assert!(matches!(
            image_grid(&ok, 0, 4, &opts),
            Err(DrawError::GridTooSmall { .. })
        ));
        let zero = GridOpts { scale: 0, ..opts };
        assert!(matches!(
            image_grid(&ok, 1, 1, &zero),
            Err(DrawError::ZeroScale(0))
        ));
        for (vmin, vmax) in [
            (1.0, 1.0),
            (1.0, 0.0),
            (f32::NAN, 1.0),
            (0.0, f32::INFINITY),
        ] {
            let bad = GridOpts {
                color_scale: ColorScale::Fixed { vmin, vmax },
                ..opts
            };
            assert!(matches!(
                image_grid(&ok, 1, 1, &bad),
                Err(DrawError::BadRange { .. })
            ));
        }
        let huge = GridOpts {
            scale: usize::MAX / 2,
            ..opts
        };
        assert!(matches!(
            image_grid(&ok, 1, 1, &huge),
            Err(DrawError::TooLarge { .. })
        ));
        let wide = GridOpts {
            scale: 1000,
            ..opts
        };
        assert!(matches!(
            image_grid(&ok, 1, 100, &wide),
            Err(DrawError::TooLarge { .. })
        ));
    }

    #[test]
    fn empty_grid_is_just_background() {
        // With no tile to size them, cells are one value (scale x scale) wide.
        let opts = GridOpts::filters();
        let img = image_grid(&[], 2, 3, &opts).unwrap();
        let cell = opts.scale + opts.gap;
        assert_eq!(
            (img.width(), img.height()),
            (3 * cell + opts.gap, 2 * cell + opts.gap)
        );
    }
}
