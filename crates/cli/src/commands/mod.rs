//! One module per `convlab` command.

pub mod bench;
pub mod evaluate;
pub mod explain;
pub mod export;
pub mod gradcheck;
pub mod inspect;
pub mod plot_model;
pub mod predict;
pub mod report;
pub mod summary;
pub mod train;

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::ValueEnum;
use convlab_cli::draw::{image_grid, GridOpts, RgbImage, Tile};
use convlab_nn::{ConvAlgorithm, Sequential, Tensor};

/// `--conv auto|im2col|direct|winograd|reference`: auto picks per layer (Winograd for 3x3
/// stride-1 layers with at least 16 input channels, im2col otherwise); winograd runs im2col where
/// it cannot apply; reference runs the plain f64 loops (slow: for reading and checking).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
pub enum ConvArg {
    Auto,
    Im2col,
    Direct,
    Winograd,
    Reference,
}

impl From<ConvArg> for ConvAlgorithm {
    fn from(c: ConvArg) -> Self {
        match c {
            ConvArg::Auto => ConvAlgorithm::Auto,
            ConvArg::Im2col => ConvAlgorithm::Im2col,
            ConvArg::Direct => ConvAlgorithm::Direct,
            ConvArg::Winograd => ConvAlgorithm::Winograd,
            ConvArg::Reference => ConvAlgorithm::Reference,
        }
    }
}

/// Loads a model saved by `train`; the error names the file and the problem.
pub fn load_model(path: &Path) -> Result<Sequential> {
    anyhow::ensure!(
        !path.is_file() || crate::model_arg::is_checkpoint(path),
        "--model {}: this is a model file (an architecture without trained weights); this command needs a checkpoint written by `convlab train --model {}`",
        path.display(),
        path.display()
    );
    Ok(convlab_nn::checkpoint::load_model(path)?)
}

/// Checks an SVG picture's path before any work: named .svg, a place `check_output` accepts, and
/// none of the command's `inputs` (argument, path).
pub fn check_svg_output(arg: &str, path: &Path, inputs: &[(&str, Option<&Path>)]) -> Result<()> {
    anyhow::ensure!(
        path.extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("svg")),
        "{arg} {}: the plot is an SVG file: name it .svg",
        path.display()
    );
    check_output(arg, path)?;
    for (in_arg, input) in inputs {
        if let Some(input) = input {
            check_not_input(arg, path, in_arg, input)?;
        }
    }
    Ok(())
}

/// Refuses an output that is the command's own input file (`--out model.toml` beside `--model
/// model.toml` would replace the model with the picture).
pub fn check_not_input(out_arg: &str, out: &Path, in_arg: &str, input: &Path) -> Result<()> {
    let (Ok(a), Ok(b)) = (std::fs::canonicalize(out), std::fs::canonicalize(input)) else {
        return Ok(()); // the output does not exist yet: it cannot be the input
    };
    anyhow::ensure!(
        a != b,
        "{out_arg} {} is the {in_arg} file itself; writing it would destroy the input: choose another path",
        out.display()
    );
    Ok(())
}

/// A grid of `count` images of `height x width`: image j is column `offset + j` of `data`, read
/// as `height * width` rows of `row_len` values. A kernel (kh, kw, in, out) is kh*kw rows of
/// in*out (offset channel*out picks one input channel); an NHWC output (1, h, w, c) is h*w rows
/// of c. `cols` images per row of the grid.
#[allow(clippy::too_many_arguments)]
pub fn channel_grid(
    data: &[f32],
    height: usize,
    width: usize,
    row_len: usize,
    offset: usize,
    count: usize,
    cols: usize,
    opts: &GridOpts,
) -> Result<RgbImage> {
    let blocks: Vec<Vec<f32>> = (0..count)
        .map(|j| {
            (0..height * width)
                .map(|r| data[r * row_len + offset + j])
                .collect()
        })
        .collect();
    let tiles: Vec<Tile> = blocks
        .iter()
        .map(|b| Tile {
            values: b,
            height,
            width,
        })
        .collect();
    let cols = count.min(cols).max(1);
    Ok(image_grid(&tiles, count.div_ceil(cols), cols, opts)?)
}

/// One input image (1, H, W, C), scaled up `scale` times: in colour when it has three channels
/// (CIFAR-10's R, G, B), else its first channel in grey, as the chapter draws it.
pub fn input_image(x: &Tensor, scale: usize) -> Result<RgbImage> {
    let [_, height, width, channels] = x.dims4("input image");
    if channels == 3 {
        let mut image = RgbImage::new(width * scale, height * scale, [0, 0, 0])?;
        let byte = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        for (i, rgb) in x.data().chunks_exact(3).enumerate() {
            let colour = [byte(rgb[0]), byte(rgb[1]), byte(rgb[2])];
            let (row, col) = (i / width, i % width);
            image.fill_rect(col * scale, row * scale, scale, scale, colour);
        }
        return Ok(image);
    }
    let first: Vec<f32> = x.data().iter().step_by(channels).copied().collect();
    let tile = Tile {
        values: &first,
        height,
        width,
    };
    let opts = GridOpts {
        scale,
        ..GridOpts::input_image()
    };
    Ok(image_grid(&[tile], 1, 1, &opts)?)
}

/// `dir/stem.ext` beside `path`: best-cnn-model.safetensors -> best-cnn-model.history.csv.
pub fn beside(path: &Path, suffix: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    path.with_file_name(format!("{stem}.{suffix}"))
}

/// Refuses an output path before any work is done: it must be absent or a writable regular file,
/// in a directory that exists (the write itself checks again).
pub fn check_output(arg: &str, path: &Path) -> Result<()> {
    let bad = |why: String| anyhow::anyhow!("{arg} {}: {why}", path.display());
    convlab_nn::atomic::check_target(path).map_err(|e| bad(e.to_string()))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if path.file_name().is_none() {
        return Err(bad("the path does not end in a file name".into()));
    }
    if !dir.is_dir() {
        return Err(bad(format!(
            "the directory {} does not exist",
            dir.display()
        )));
    }
    Ok(())
}

/// Writes a file atomically and says so.
pub fn write_output(path: &Path, bytes: &[u8]) -> Result<()> {
    convlab_cli::draw::write_atomic(path, bytes)?;
    outln!("wrote {}", path.display())?;
    Ok(())
}
