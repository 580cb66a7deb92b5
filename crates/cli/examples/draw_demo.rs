//! Renders every kind of picture the `draw` module makes, from made-up but realistic data, so the
//! output can be looked at: `cargo run -p convlab-cli --example draw_demo -- /tmp/draw-demo`.

use std::path::{Path, PathBuf};

use convlab_cli::draw::{
    histogram, histogram_compare, image_grid, learning_curves, model_dot, model_svg, side_by_side,
    write_atomic, DrawError, GridOpts, HistoryData, LayerBox, Tile,
};

/// xorshift64* with Box-Muller: enough randomness for a demo without a dependency.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        // The top 24 bits, as a float in (0, 1].
        ((self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40) as f32 + 1.0) / (1u64 << 24) as f32
    }

    fn normal(&mut self, std: f32) -> f32 {
        let (u, v) = (self.uniform(), self.uniform());
        std * (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    }
}

/// A 28x28 T-shirt-like silhouette with pixels in 0..1, standing in for a Fashion-MNIST image.
fn shirt() -> Vec<f32> {
    let mut img = vec![0.0; 28 * 28];
    for y in 3..26 {
        for x in 2..26 {
            let sleeve =
                y < 12 && !(8..=19).contains(&x) && (y as i32 - 3) > (x as i32 - 13).abs() - 11;
            let body = (8..=19).contains(&x) && !(y < 6 && (11..=16).contains(&x));
            if sleeve || body {
                img[y * 28 + x] = 0.55 + 0.4 * (((x * 7 + y * 3) % 11) as f32 / 11.0);
            }
        }
    }
    img
}

/// 'same' 3x3 convolution of one 28x28 image with one kernel, then ReLU.
fn conv_relu(img: &[f32], k: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0; 28 * 28];
    for y in 0..28 {
        for x in 0..28 {
            let mut s = 0.0;
            for dy in 0..3 {
                for dx in 0..3 {
                    let (iy, ix) = (y as i32 + dy - 1, x as i32 + dx - 1);
                    if (0..28).contains(&iy) && (0..28).contains(&ix) {
                        s += img[iy as usize * 28 + ix as usize] * k[(dy * 3 + dx) as usize];
                    }
                }
            }
            out[y * 28 + x] = f32::max(s, 0.0);
        }
    }
    out
}

fn save(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), DrawError> {
    let path = dir.join(name);
    write_atomic(&path, bytes)?;
    println!("wrote {}", path.display());
    Ok(())
}

fn main() -> Result<(), DrawError> {
    let dir = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("/tmp/draw-demo"), PathBuf::from);
    std::fs::create_dir_all(&dir).map_err(|source| DrawError::Write {
        path: dir.clone(),
        source,
    })?;
    let mut rng = Rng(42);

    // Trained-looking kernels ~ N(0, 0.2) and Glorot-uniform untrained ones, (3, 3, 1, 32).
    let trained: Vec<f32> = (0..288).map(|_| rng.normal(0.2)).collect();
    let limit = (6.0f32 / (9.0 + 288.0)).sqrt();
    let untrained: Vec<f32> = (0..288)
        .map(|_| limit * (2.0 * rng.uniform() - 1.0))
        .collect();
    for (name, w) in [
        ("filters.png", &trained),
        ("filters_untrained.png", &untrained),
    ] {
        let tiles: Vec<Tile> = w.chunks(9).map(|k| Tile::new(k, 3, 3)).collect();
        save(
            &dir,
            name,
            &image_grid(&tiles, 2, 16, &GridOpts::filters())?.to_png()?,
        )?;
    }

    let input = shirt();
    let maps: Vec<Vec<f32>> = trained.chunks(9).map(|k| conv_relu(&input, k)).collect();
    let tiles: Vec<Tile> = maps.iter().map(|m| Tile::new(m, 28, 28)).collect();
    let grid = image_grid(&tiles, 4, 8, &GridOpts::feature_maps())?;
    let image = image_grid(&[Tile::new(&input, 28, 28)], 1, 1, &GridOpts::input_image())?;
    let both = side_by_side(&image, &grid, 16, GridOpts::feature_maps().background)?;
    save(&dir, "feature_maps.png", &both.to_png()?)?;

    let epochs = 20;
    let mut h = HistoryData::default();
    for e in 0..epochs {
        let t = e as f32;
        h.loss
            .push(0.25 + 0.3 * (-t / 3.0).exp() - 0.004 * t + 0.01 * rng.normal(1.0));
        h.accuracy.push(0.91 - 0.1 * (-t / 3.0).exp() + 0.002 * t);
        h.val_loss
            .push(0.24 + 0.12 * (-t / 2.5).exp() + 0.0025 * (t - 6.0).powi(2) / 4.0);
        h.val_accuracy
            .push(0.915 - 0.05 * (-t / 2.5).exp() - 0.0004 * (t - 6.0).powi(2) / 4.0);
    }
    let best = 1
        + (0..epochs)
            .min_by(|&a, &b| h.val_loss[a].total_cmp(&h.val_loss[b]))
            .unwrap();
    save(
        &dir,
        "history.svg",
        learning_curves(&h, Some(best)).as_bytes(),
    )?;
    let mut broken = h.clone();
    broken.loss[5] = f32::NAN;
    broken.val_accuracy[9] = f32::INFINITY;
    save(
        &dir,
        "history_nan.svg",
        learning_curves(&broken, Some(3)).as_bytes(),
    )?;
    let one = HistoryData {
        loss: vec![0.5],
        accuracy: vec![0.8],
        val_loss: vec![0.45],
        val_accuracy: vec![0.83],
    };
    save(
        &dir,
        "history_one_epoch.svg",
        learning_curves(&one, Some(1)).as_bytes(),
    )?;

    save(
        &dir,
        "hist.svg",
        histogram(&trained, 10, "conv2d kernel weights", "weight value").as_bytes(),
    )?;
    let labels = ["trained", "untrained"];
    let compare = histogram_compare(
        &trained,
        &untrained,
        labels,
        20,
        "conv2d kernel weights",
        "weight value",
    );
    save(&dir, "hist_compare.svg", compare.as_bytes())?;
    let mut with_nan = vec![0.1; 50];
    with_nan.extend([f32::NAN; 3]);
    save(
        &dir,
        "hist_constant.svg",
        histogram(&with_nan, 10, "constant weights", "weight value").as_bytes(),
    )?;

    let layers = [
        (
            "input_layer",
            "InputLayer",
            "(None, 28, 28, 1)",
            "(None, 28, 28, 1)",
        ),
        (
            "conv2d",
            "Conv2D",
            "(None, 28, 28, 1)",
            "(None, 28, 28, 32)",
        ),
        (
            "max_pooling2d",
            "MaxPooling2D",
            "(None, 28, 28, 32)",
            "(None, 14, 14, 32)",
        ),
        (
            "conv2d_1",
            "Conv2D",
            "(None, 14, 14, 32)",
            "(None, 14, 14, 64)",
        ),
        (
            "max_pooling2d_1",
            "MaxPooling2D",
            "(None, 14, 14, 64)",
            "(None, 7, 7, 64)",
        ),
        ("flatten", "Flatten", "(None, 7, 7, 64)", "(None, 3136)"),
        ("dense", "Dense", "(None, 3136)", "(None, 100)"),
        ("dropout", "Dropout", "(None, 100)", "(None, 100)"),
        ("dense_1", "Dense", "(None, 100)", "(None, 10)"),
    ];
    let boxes: Vec<LayerBox> = layers
        .iter()
        .map(|&(n, k, i, o)| LayerBox::new(n, k, i, o))
        .collect();
    save(&dir, "model.svg", model_svg(&boxes).as_bytes())?;
    save(&dir, "model.dot", model_dot(&boxes).as_bytes())?;
    Ok(())
}
