//! `convlab inspect weights|feature-maps`: the chapter's look inside the trained network.
//!
//! - `weights --model FILE --layer 0`: kernel and bias shapes, mean and std; `--hist` draws the
//!   weights' histogram, `--filters` the kernels as a 2 x 16 grid (for 32 filters) on a fixed
//!   colour scale (-0.5..0.5); `--untrained` does all this for a freshly initialised model with the
//!   same architecture and seed, so trained-against-untrained is two commands.
//! - `feature-maps --model FILE --layer 0 --index 0 --out maps.png`: that layer's output for one
//!   image, as a 4 x 8 grid (for 32 maps), with the input image beside it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use convlab_cli::draw::{histogram, side_by_side, ColorScale, GridOpts};
use convlab_nn::{chapter_model, ConvAlgorithm, Dataset, LayerEntry, Sequential};

use super::{channel_grid, input_image, load_model, write_output};
use crate::data::{self, DataArgs, Split};

#[derive(Subcommand, Debug)]
pub enum InspectCommand {
    /// Weight statistics, histogram and filter images of one layer.
    Weights(WeightsArgs),
    /// One layer's output (feature maps) for one image.
    FeatureMaps(FeatureMapsArgs),
}

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct WeightsArgs {
    /// A model saved by `convlab train` (with --untrained and no model: the chapter's, seed 42).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Layer index (0 is the first Conv2D).
    #[arg(long, default_value_t = 0)]
    layer: usize,
    /// Use a freshly initialised model of the same architecture and seed.
    #[arg(long)]
    untrained: bool,
    /// Write a histogram of the kernel's weights (SVG).
    #[arg(long)]
    hist: Option<PathBuf>,
    /// Write the kernels as an image grid (PNG).
    #[arg(long)]
    filters: Option<PathBuf>,
    /// Colour scale of --filters.
    #[arg(long, default_value_t = -0.5, allow_hyphen_values = true)]
    vmin: f32,
    #[arg(long, default_value_t = 0.5, allow_hyphen_values = true)]
    vmax: f32,
    /// For kernels with several input channels: which one to draw.
    #[arg(long, default_value_t = 0)]
    channel: usize,
}

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct FeatureMapsArgs {
    #[arg(long)]
    model: PathBuf,
    #[arg(long, default_value_t = 0)]
    layer: usize,
    /// Which image (from 0) of the split.
    #[arg(long, default_value_t = 0)]
    index: usize,
    /// Default: all 60,000 training images, as the chapter's train_input.
    #[arg(long, value_enum, default_value_t = Split::All)]
    split: Split,
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    data: DataArgs,
}

pub fn run(cmd: InspectCommand) -> Result<ExitCode> {
    match cmd {
        InspectCommand::Weights(args) => weights(args),
        InspectCommand::FeatureMaps(args) => feature_maps(args),
    }
}

fn layer(model: &Sequential, index: usize) -> Result<&LayerEntry> {
    model.layers().get(index).with_context(|| {
        format!(
            "--layer {index} is out of range: the model has {} layers (0..{})",
            model.layers().len(),
            model.layers().len()
        )
    })
}

/// Mean and (population) standard deviation, as numpy's mean() and std().
fn mean_std(values: &[f32]) -> (f64, f64) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = values
        .iter()
        .map(|&v| (v as f64 - mean).powi(2))
        .sum::<f64>()
        / n;
    (mean, var.sqrt())
}

fn weights(args: WeightsArgs) -> Result<ExitCode> {
    for (name, path) in [("--hist", &args.hist), ("--filters", &args.filters)] {
        if let Some(path) = path {
            super::check_output(name, path)?;
        }
    }
    anyhow::ensure!(
        args.vmin < args.vmax,
        "--vmin ({}) must be below --vmax ({})",
        args.vmin,
        args.vmax
    );
    let model = match (&args.model, args.untrained) {
        (Some(path), false) => load_model(path)?,
        (Some(path), true) => Sequential::from_config(&load_model(path)?.config())?,
        (None, true) => chapter_model(42, ConvAlgorithm::Auto),
        (None, false) => anyhow::bail!("give --model FILE (or --untrained for a fresh model)"),
    };
    let entry = layer(&model, args.layer)?;
    let (Some(kernel), bias) = (entry.weight("kernel"), entry.weight("bias")) else {
        anyhow::bail!(
            "layer {} ({} {}) has no weights",
            args.layer,
            entry.name,
            entry.layer.kind()
        );
    };
    let state = if args.untrained {
        "untrained"
    } else {
        "trained"
    };
    let (mean, std) = mean_std(kernel.data());
    outln!(
        "layer {} {} ({}), {state}",
        args.layer,
        entry.name,
        entry.layer.kind()
    )?;
    outln!("kernel {:?}: mean {mean:.4}, std {std:.4}", kernel.shape())?;
    if let Some(bias) = bias {
        let (mean, std) = mean_std(bias.data());
        outln!("bias {:?}: mean {mean:.4}, std {std:.4}", bias.shape())?;
    }
    if let Some(path) = &args.hist {
        let title = format!("{} kernel weights ({state})", entry.name);
        let svg = histogram(kernel.data(), 40, &title, "weight value");
        write_output(path, svg.as_bytes())?;
    }
    if let Some(path) = &args.filters {
        let &[kh, kw, cin, cout] = kernel.shape() else {
            anyhow::bail!(
                "--filters needs a convolution kernel (kh, kw, in, out); {} has {:?}",
                entry.name,
                kernel.shape()
            );
        };
        anyhow::ensure!(
            args.channel < cin,
            "--channel {} is out of range: the kernel has {cin} input channels",
            args.channel
        );
        let opts = GridOpts {
            color_scale: ColorScale::Fixed {
                vmin: args.vmin,
                vmax: args.vmax,
            },
            ..GridOpts::filters()
        };
        // Filter f of the chosen input channel: w[.., .., channel, f], 16 filters per row.
        let offset = args.channel * cout;
        let image = channel_grid(kernel.data(), kh, kw, cin * cout, offset, cout, 16, &opts)?;
        write_output(path, &image.to_png()?)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn feature_maps(args: FeatureMapsArgs) -> Result<ExitCode> {
    super::check_output("--out", &args.out)?;
    let model = load_model(&args.model)?;
    crate::memory::check_batch(&model, 1, 1, false)?;
    anyhow::ensure!(
        model.input_shape() == [28, 28, 1],
        "{}: the model takes {:?} inputs, not Fashion-MNIST's 28x28x1 images",
        args.model.display(),
        model.input_shape()
    );
    let entry = layer(&model, args.layer)?;
    let &[h, w, c] = entry.output_shape.as_slice() else {
        anyhow::bail!(
            "layer {} ({}) outputs {:?}: feature maps need a (height, width, channels) output",
            args.layer,
            entry.name,
            entry.output_shape
        );
    };
    let data = data::load(&args.data, model.input_shape())?;
    let split = data.split(args.split);
    anyhow::ensure!(
        args.index < split.len(),
        "--index {} is out of range: --split {} has {} images",
        args.index,
        args.split.name(),
        split.len()
    );
    let x = split.inputs(&[args.index]);
    let maps = model.layer_output(&x, args.layer, 1)?;
    // Map m is channel m of the NHWC output, 8 maps per row.
    let grid = channel_grid(maps.data(), h, w, c, 0, c, 8, &GridOpts::feature_maps())?;
    // The input beside it, scaled to the grid's height.
    let input = input_image(&x, (grid.height() / (x.shape()[1] + 2)).max(1))?;
    let picture = side_by_side(&input, &grid, 8, [255, 255, 255])?;
    outln!(
        "layer {} {}: {c} maps of {h}x{w} for image {} of --split {}",
        args.layer,
        entry.name,
        args.index,
        args.split.name()
    )?;
    write_output(&args.out, &picture.to_png()?)?;
    Ok(ExitCode::SUCCESS)
}
