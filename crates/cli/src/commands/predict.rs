//! `convlab predict --model FILE --index I [--split test] [--out image.png]`: the class
//! probabilities of one image, best first, and the image itself. `--count N --csv` prints the
//! probabilities of N images from I on, one CSV row each, for comparing with another runtime.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use convlab_nn::{Dataset, Sequential};
use convlab_tensor::reduce::argmax_last_axis;

use super::{input_image, load_model, write_output};
use crate::data::{self, DataArgs, Split};

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct PredictArgs {
    /// A model saved by `convlab train`.
    #[arg(long)]
    model: PathBuf,
    /// Which image of the split (from 0).
    #[arg(long)]
    index: usize,
    #[arg(long, value_enum, default_value_t = Split::Test)]
    split: Split,
    /// Also save the image as a PNG (scaled up 8x; in colour for CIFAR-10).
    #[arg(long, conflicts_with = "csv")]
    out: Option<PathBuf>,
    /// How many images, from --index on (with --csv).
    #[arg(long, default_value_t = 1, requires = "csv")]
    count: usize,
    /// One CSV row per image: index, true label, predicted class, then every class's
    /// probability (shortest text that reads back as the same f32).
    #[arg(long)]
    csv: bool,
    #[command(flatten)]
    data: DataArgs,
}

pub fn run(args: PredictArgs) -> Result<ExitCode> {
    let model = load_model(&args.model)?;
    let what = format!("--model {}", args.model.display());
    data::check_model(&model, args.data.dataset_for(&model)?, &what)?;
    if let Some(out) = &args.out {
        super::check_output("--out", out)?;
        super::check_not_input("--out", out, "--model", &args.model)?;
    }
    crate::memory::check_batch(&model, 1, 1, false)?;
    let data = data::load(&args.data, &model, &what)?;
    if args.csv {
        return print_csv(&model, &data, &args);
    }
    let class_names = data.class_names();
    let split = data.split(args.split);
    anyhow::ensure!(
        args.index < split.len(),
        "--index {} is out of range: --split {} has {} images (0..{})",
        args.index,
        args.split.name(),
        split.len(),
        split.len()
    );
    let x = split.inputs(&[args.index]);
    let probs = model.predict(&x, 1)?;
    let label = split.labels[split.items[args.index]] as usize;
    outln!(
        "{:?} image {} (true class: {})",
        args.split,
        args.index,
        class_names[label]
    )?;
    let mut ranked: Vec<(usize, f32)> = probs.data().iter().copied().enumerate().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (class, p) in ranked {
        let mark = if class == label { "  <- true" } else { "" };
        outln!(
            "{:>12} {p:.4} {}{mark}",
            class_names[class],
            "#".repeat((p.clamp(0.0, 1.0) * 40.0).round() as usize)
        )?;
    }
    if let Some(out) = &args.out {
        write_output(out, &input_image(&x, 8)?.to_png()?)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `--count` images from `--index` on as CSV rows, predicted 256 at a time.
fn print_csv(model: &Sequential, data: &data::Data, args: &PredictArgs) -> Result<ExitCode> {
    let split = data.split(args.split);
    anyhow::ensure!(args.count >= 1, "--count must be at least 1");
    let end = args
        .index
        .checked_add(args.count)
        .filter(|&e| e <= split.len());
    let Some(end) = end else {
        anyhow::bail!(
            "--index {} --count {} runs past the end: --split {} has {} images",
            args.index,
            args.count,
            args.split.name(),
            split.len()
        );
    };
    let classes = model.output_shape().iter().product::<usize>();
    let header: Vec<String> = (0..classes).map(|c| format!("p{c}")).collect();
    outln!("index,label,predicted,{}", header.join(","))?;
    let indices: Vec<usize> = (args.index..end).collect();
    for batch in indices.chunks(256) {
        let probs = model.predict(&split.inputs(batch), 256)?;
        let predicted = argmax_last_axis(&probs);
        for ((&i, p), row) in batch
            .iter()
            .zip(&predicted)
            .zip(probs.data().chunks(classes))
        {
            let label = split.labels[split.items[i]];
            let values: Vec<String> = row.iter().map(|v| v.to_string()).collect();
            outln!("{i},{label},{p},{}", values.join(","))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
