//! `convlab plot-model [--model FILE] --out model.svg [--format svg|dot]`: Keras's
//! `plot_model(model, show_shapes=True)`: a box per layer with its name, type, input and output
//! shapes, and arrows between them.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, ValueEnum};
use convlab_cli::draw::{model_dot, model_svg};

use super::{write_output, ConvArg};
use crate::model_arg::model_or_chapter;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Svg,
    Dot,
}

#[derive(Args, Debug)]
pub struct PlotModelArgs {
    /// A model file (TOML or Keras JSON) or a checkpoint saved by `convlab train` (default: the
    /// chapter's model).
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    #[arg(long)]
    out: PathBuf,
    /// Output format (default: from the file extension, else SVG).
    #[arg(long, value_enum)]
    format: Option<Format>,
}

pub fn run(args: PlotModelArgs) -> Result<ExitCode> {
    super::check_output("--out", &args.out)?;
    if let Some(model) = &args.model {
        super::check_not_input("--out", &args.out, "--model", model)?;
    }
    let model = model_or_chapter(args.model.as_deref(), 42, ConvArg::Auto)?;
    let boxes = crate::run_report::layer_boxes(&model);
    let format =
        args.format
            .unwrap_or_else(|| match args.out.extension().and_then(|e| e.to_str()) {
                Some("dot") | Some("gv") => Format::Dot,
                _ => Format::Svg,
            });
    let text = match format {
        Format::Svg => model_svg(&boxes),
        Format::Dot => model_dot(&boxes),
    };
    write_output(&args.out, text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
