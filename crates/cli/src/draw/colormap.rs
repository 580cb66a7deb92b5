//! matplotlib's default colormap, viridis, and a plain grey ramp.
//!
//! viridis is perceptually uniform (equal steps in value look like equal steps in colour) and still
//! reads in greyscale and to colour-blind eyes, which is why the chapter's figures use it.

/// The colour of a NaN: magenta, which viridis never produces, so a broken value stands out.
pub const NAN_COLOUR: [u8; 3] = [255, 0, 255];

/// viridis sampled at t = k/64 for k = 0..=64, rounded to 8 bits; linear interpolation between
/// these anchors stays within 0.53/255 of matplotlib's 256-entry table.
///
/// Produced with matplotlib 3.x:
/// ```python
/// import numpy as np
/// from matplotlib._cm_listed import _viridis_data as d
/// D = np.array(d) * 255
/// def at(t):
///     x = t * 255; i = min(int(x), 254); f = x - i
///     return D[i] * (1 - f) + D[i + 1] * f
/// print([list(np.round(at(k / 64)).astype(int)) for k in range(65)])
/// ```
#[rustfmt::skip]
const VIRIDIS: [[u8; 3]; 65] = [
    [68, 1, 84], [70, 6, 90], [71, 13, 96], [71, 19, 101],
    [72, 24, 106], [72, 29, 111], [72, 35, 116], [72, 40, 120],
    [71, 45, 123], [70, 50, 126], [69, 54, 129], [68, 59, 132],
    [66, 64, 134], [64, 69, 135], [63, 73, 137], [61, 78, 138],
    [59, 82, 139], [57, 86, 140], [55, 90, 141], [53, 94, 141],
    [51, 99, 141], [49, 102, 142], [47, 106, 142], [46, 110, 142],
    [44, 114, 142], [43, 118, 142], [41, 122, 142], [40, 125, 142],
    [38, 129, 142], [37, 133, 142], [35, 137, 142], [34, 140, 141],
    [33, 144, 140], [32, 148, 140], [31, 152, 139], [30, 155, 138],
    [31, 159, 136], [32, 163, 135], [33, 166, 133], [36, 170, 131],
    [40, 174, 128], [44, 177, 126], [49, 181, 123], [55, 184, 119],
    [62, 188, 116], [69, 191, 112], [76, 194, 108], [84, 198, 103],
    [93, 201, 99], [101, 204, 93], [110, 206, 88], [120, 209, 82],
    [130, 211, 76], [140, 214, 70], [150, 216, 63], [160, 218, 57],
    [171, 220, 50], [181, 222, 43], [192, 223, 36], [203, 225, 31],
    [213, 226, 26], [224, 227, 24], [234, 229, 26], [244, 230, 30],
    [253, 231, 37],
];

/// The viridis colour at `t` in [0, 1] (dark purple at 0, yellow at 1). Values outside are clamped
/// (so +inf is yellow and -inf purple); NaN is [`NAN_COLOUR`].
pub fn viridis(t: f32) -> [u8; 3] {
    if t.is_nan() {
        return NAN_COLOUR;
    }
    let last = VIRIDIS.len() - 1;
    // Position along the anchors: anchor i sits at t = i / last.
    let x = t.clamp(0.0, 1.0) * last as f32;
    let i = (x as usize).min(last - 1);
    let f = x - i as f32;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    let mix = |k: usize| (a[k] as f32 + (b[k] as f32 - a[k] as f32) * f).round() as u8;
    [mix(0), mix(1), mix(2)]
}

/// Grey from black at 0 to white at 1, clamped; NaN is [`NAN_COLOUR`].
pub fn grey(t: f32) -> [u8; 3] {
    if t.is_nan() {
        return NAN_COLOUR;
    }
    let g = (t.clamp(0.0, 1.0) * 255.0).round() as u8;
    [g, g, g]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: [u8; 3], b: [u8; 3], tol: i32) -> bool {
        a.iter()
            .zip(b)
            .all(|(&x, y)| (x as i32 - y as i32).abs() <= tol)
    }

    /// Expected colours are matplotlib's: `matplotlib.colors.to_hex(cm.viridis(t))`.
    #[test]
    fn viridis_matches_matplotlib() {
        assert_eq!(viridis(0.0), [0x44, 0x01, 0x54]); // #440154
        assert_eq!(viridis(1.0), [0xfd, 0xe7, 0x25]); // #fde725
        assert!(
            close(viridis(0.5), [0x21, 0x91, 0x8c], 2),
            "{:?}",
            viridis(0.5)
        ); // #21918c
        assert!(
            close(viridis(0.25), [59, 82, 139], 2),
            "{:?}",
            viridis(0.25)
        ); // #3b528b
        assert!(
            close(viridis(0.75), [94, 201, 98], 2),
            "{:?}",
            viridis(0.75)
        ); // #5ec962
    }

    #[test]
    fn out_of_range_clamps_and_nan_is_flagged() {
        assert_eq!(viridis(-3.0), viridis(0.0));
        assert_eq!(viridis(7.0), viridis(1.0));
        assert_eq!(viridis(f32::INFINITY), viridis(1.0));
        assert_eq!(viridis(f32::NEG_INFINITY), viridis(0.0));
        assert_eq!(viridis(f32::NAN), NAN_COLOUR);
        assert_eq!(grey(f32::NAN), NAN_COLOUR);
    }

    #[test]
    fn viridis_brightens_monotonically() {
        // Perceptual uniformity implies lightness rises with t; green is a fair proxy here.
        let greens: Vec<u8> = (0..=100).map(|k| viridis(k as f32 / 100.0)[1]).collect();
        assert!(greens.windows(2).all(|w| w[0] <= w[1]), "{greens:?}");
    }

    #[test]
    fn grey_ramp() {
        assert_eq!(grey(0.0), [0, 0, 0]);
        assert_eq!(grey(1.0), [255, 255, 255]);
        assert_eq!(grey(0.5), [128, 128, 128]);
    }
}
