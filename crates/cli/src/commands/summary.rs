//! `convlab summary [--model FILE] [--plan]`: the Keras summary table, and with `--plan` which
//! kernel runs each layer.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use convlab_nn::chapter_model;

use super::load_model;

#[derive(Args, Debug)]
pub struct SummaryArgs {
    /// A model saved by `convlab train` (default: the chapter's model, untrained).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Also print which kernel runs each layer (the plan `convlab_tensor::plan` chooses).
    #[arg(long)]
    plan: bool,
    /// With --plan: the convolution algorithm to plan for (a checkpoint's layers keep theirs).
    #[arg(long, value_enum, default_value_t = super::ConvArg::Auto)]
    conv: super::ConvArg,
}

pub fn run(args: SummaryArgs) -> Result<ExitCode> {
    let model = match &args.model {
        Some(path) => load_model(path)?,
        None => chapter_model(42, args.conv.into()),
    };
    out!("{}", model.summary())?;
    if args.plan {
        out!("{}", model.plan_table())?;
        outln!("Vector kernels: {}", convlab_tensor::isa::describe())?;
    }
    Ok(ExitCode::SUCCESS)
}
