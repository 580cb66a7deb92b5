//! `convlab summary [--model FILE]`: the Keras summary table.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use convlab_nn::{chapter_model, ConvAlgorithm};

use super::load_model;

#[derive(Args, Debug)]
pub struct SummaryArgs {
    /// A model saved by `convlab train` (default: the chapter's model, untrained).
    #[arg(long)]
    model: Option<PathBuf>,
}

pub fn run(args: SummaryArgs) -> Result<ExitCode> {
    let model = match &args.model {
        Some(path) => load_model(path)?,
        None => chapter_model(42, ConvAlgorithm::Auto),
    };
    out!("{}", model.summary())?;
    Ok(ExitCode::SUCCESS)
}
