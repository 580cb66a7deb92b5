//! `convlab summary [--model FILE] [--plan]`: the Keras summary table, and with `--plan` which
//! kernel runs each layer.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::model_arg::model_or_chapter;
use anyhow::Result;
use clap::Args;

#[derive(Args, Debug)]
pub struct SummaryArgs {
    /// A model file (TOML or Keras JSON) or a checkpoint saved by `convlab train` (default: the
    /// chapter's model, untrained).
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Also print which kernel runs each layer (the plan `convlab_tensor::plan` chooses).
    #[arg(long)]
    plan: bool,
    /// With --plan: the convolution algorithm to plan for (auto keeps each layer's own).
    #[arg(long, value_enum, default_value_t = super::ConvArg::Auto)]
    conv: super::ConvArg,
}

pub fn run(args: SummaryArgs) -> Result<ExitCode> {
    let model = model_or_chapter(args.model.as_deref(), 42, args.conv)?;
    out!("{}", model.summary())?;
    if args.plan {
        out!("{}", model.plan_table())?;
        outln!("Vector kernels: {}", convlab_tensor::isa::describe())?;
    }
    Ok(ExitCode::SUCCESS)
}
