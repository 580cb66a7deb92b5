//! `convlab inspect weights|feature-maps`: the chapter's look inside the trained network.
//!
//! - `weights --model FILE --layer 0`: kernel and bias shapes, mean and std; `--hist` draws the
//!   weights' histogram, `--filters` the kernels as a 2 x 16 grid (for 32 filters) on a fixed
//!   colour scale (-0.5..0.5); `--untrained` does all this for a freshly initialised model with the
//!   same architecture and seed, so trained-against-untrained is two commands.
//! - `feature-maps --model FILE --layer 0 --index 0 --out maps.png`: that layer's output for one
//!   image, as a 4 x 8 grid (for 32 maps), with the input image beside it; any layer whose
//!   output has height, width and channels (Conv2D, the poolings, a Dropout after them).
//!
//! Both work for any model: `--model` takes a checkpoint, or (for `weights`) a model file, whose
//! weights are then the untrained ones drawn from `--seed`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use convlab_cli::draw::{histogram, side_by_side, ColorScale, GridOpts};
use convlab_nn::{chapter_model, ConvAlgorithm, Dataset, LayerEntry, Sequential};

use super::{channel_grid, input_image, load_model, write_output, ConvArg};
use crate::data::{self, DataArgs, Split};
use crate::model_arg::Source;

#[derive(Subcommand, Debug)]
pub enum InspectCommand {
    /// Weight statistics, histogram and filter images of one layer.
    Weights(WeightsArgs),
    /// One layer's output (feature maps) for one image.
    FeatureMaps(FeatureMapsArgs),
}

/// `convlab inspect weights --help`: how a kernel becomes a picture.
const FILTERS_HELP: &str = "\
Filters: a Conv2D kernel (kh, kw, in, out) is drawn as one tile of kh x kw cells per filter (out
tiles, 16 to a row), each cell coloured by its weight on the fixed --vmin..--vmax scale (blue
below zero, red above). A kernel that reads several input channels (every Conv2D after the first,
or a first layer on CIFAR-10's R, G, B) has one kh x kw slice per input channel and filter:
--channel C draws the slices of input channel C (default 0), so `--channel 1` on a CIFAR-10
model's first layer shows what each filter does with green.";

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true, after_help = FILTERS_HELP)]
pub struct WeightsArgs {
    /// A checkpoint saved by `convlab train`, or a model file (TOML or Keras JSON: its untrained
    /// weights, drawn from --seed). With --untrained and no model: the chapter's, seed 42.
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Layer index, from 0 (the chapter's first Conv2D is 0, its second 2; see `convlab summary`).
    #[arg(long, default_value_t = 0)]
    layer: usize,
    /// The seed of a model file's weights and of the chapter's --untrained ones (a checkpoint's
    /// --untrained weights are the ones its run started from).
    #[arg(long, default_value_t = 42)]
    seed: u64,
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
    /// For kernels with several input channels: which one to draw (see below).
    #[arg(long, default_value_t = 0)]
    channel: usize,
}

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct FeatureMapsArgs {
    /// A checkpoint saved by `convlab train`.
    #[arg(long, value_name = "CHECKPOINT")]
    model: PathBuf,
    /// Layer index, from 0: any layer whose output has height, width and channels.
    #[arg(long, default_value_t = 0)]
    layer: usize,
    /// Which image (from 0) of the split.
    #[arg(long, default_value_t = 0)]
    index: usize,
    /// Default: all the training images, as the chapter's train_input.
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
    let stats = convlab_cli::report::Stats::of(values);
    (stats.mean, stats.std)
}

fn weights(args: WeightsArgs) -> Result<ExitCode> {
    for (name, path) in [("--hist", &args.hist), ("--filters", &args.filters)] {
        if let Some(path) = path {
            super::check_output(name, path)?;
            if let Some(model) = &args.model {
                super::check_not_input(name, path, "--model", model)?;
            }
        }
    }
    anyhow::ensure!(
        args.vmin < args.vmax,
        "--vmin ({}) must be below --vmax ({})",
        args.vmin,
        args.vmax
    );
    let model = match (&args.model, args.untrained) {
        (Some(path), untrained) => {
            let source = Source::open(path)?;
            let fresh = matches!(source, Source::File(_));
            let model = source.into_model(args.seed, ConvArg::Auto)?;
            if untrained && !fresh {
                // The checkpoint's own seed: the weights its run started from.
                Sequential::from_config(&model.config())?
            } else {
                model
            }
        }
        (None, true) => chapter_model(args.seed, ConvAlgorithm::Auto),
        (None, false) => anyhow::bail!("give --model FILE (or --untrained for a fresh model)"),
    };
    let untrained = args.untrained
        || args
            .model
            .as_deref()
            .is_some_and(|p| !crate::model_arg::is_checkpoint(p));
    let entry = layer(&model, args.layer)?;
    let (Some(kernel), bias) = (entry.weight("kernel"), entry.weight("bias")) else {
        anyhow::bail!(
            "layer {} ({} {}) has no weights",
            args.layer,
            entry.name,
            entry.layer.kind()
        );
    };
    let state = if untrained { "untrained" } else { "trained" };
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
    super::check_not_input("--out", &args.out, "--model", &args.model)?;
    let model = load_model(&args.model)?;
    crate::memory::check_batch(&model, 1, 1, false)?;
    let what = format!("--model {}", args.model.display());
    let dataset = args.data.dataset_for(&model)?;
    if let Some(problem) = data::input_mismatch(&model, dataset) {
        anyhow::bail!("{what}: {problem} (--dataset chooses the data)");
    }
    let entry = layer(&model, args.layer)?;
    let &[h, w, c] = entry.output_shape.as_slice() else {
        anyhow::bail!(
            "layer {} ({}) outputs {:?}: feature maps need a (height, width, channels) output",
            args.layer,
            entry.name,
            entry.output_shape
        );
    };
    let data = data::load_dataset(&args.data, dataset)?;
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
