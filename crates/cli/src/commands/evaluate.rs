//! `convlab evaluate --model FILE [--split val|test] [--confusion]`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use convlab_nn::{Adam, Dataset, Loss, Optimizer};
use convlab_tensor::reduce::argmax_last_axis;

use super::load_model;
use crate::data::{self, DataArgs, Split};

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct EvaluateArgs {
    /// A model saved by `convlab train`.
    #[arg(long)]
    model: PathBuf,
    #[arg(long, value_enum, default_value_t = Split::Val)]
    split: Split,
    /// Also print the confusion matrix (rows: true class, columns: predicted).
    #[arg(long)]
    confusion: bool,
    #[arg(long, default_value_t = 256)]
    batch_size: usize,
    #[command(flatten)]
    data: DataArgs,
}

pub fn run(args: EvaluateArgs) -> Result<ExitCode> {
    anyhow::ensure!(args.batch_size >= 1, "--batch-size must be at least 1");
    let mut model = load_model(&args.model)?;
    let what = format!("--model {}", args.model.display());
    let data = data::load(&args.data, &model, &what)?;
    let split = data.split(args.split);
    crate::memory::check_batch(&model, args.batch_size, split.len(), false)?;
    // The optimizer plays no part in evaluation; compile only sets the loss.
    model.compile(
        Optimizer::Adam(Adam::default()),
        Loss::SparseCategoricalCrossentropy,
    );
    let eval = model.evaluate(split, args.batch_size)?;
    outln!(
        "{:?} ({} images): loss {:.4} - accuracy {:.4}",
        args.split,
        split.len(),
        eval.loss,
        eval.accuracy.unwrap_or(f32::NAN)
    )?;
    if args.confusion {
        print_confusion(&model, split, args.batch_size, data.class_names())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_confusion(
    model: &convlab_nn::Sequential,
    split: &convlab_nn::U8Images,
    batch_size: usize,
    class_names: &[&str],
) -> Result<()> {
    let mut counts = [[0usize; 10]; 10];
    let indices: Vec<usize> = (0..split.len()).collect();
    for batch in indices.chunks(batch_size.saturating_mul(8)) {
        let probs = model.predict(&split.inputs(batch), batch_size)?;
        let predicted = argmax_last_axis(&probs);
        for (&i, &p) in batch.iter().zip(&predicted) {
            counts[split.labels[split.items[i]] as usize][p] += 1;
        }
    }
    let width = 12;
    out!("{:>width$}", "true \\ pred")?;
    for name in class_names {
        out!(" {:>8}", &name[..name.len().min(8)])?;
    }
    outln!()?;
    for (t, row) in counts.iter().enumerate() {
        out!("{:>width$}", class_names[t])?;
        for c in row {
            out!(" {c:>8}")?;
        }
        outln!()?;
    }
    Ok(())
}
