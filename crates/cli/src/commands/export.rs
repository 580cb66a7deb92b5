//! `convlab export --model CHECKPOINT --format onnx --out model.onnx`: a trained model for the
//! rest of the ecosystem (ONNX Runtime, Netron, frameworks that import ONNX). The graph, its
//! input (NHWC float32 in 0..1, `[batch, H, W, C]`) and every layer's translation are described
//! in `convlab_nn::onnx`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

use super::{load_model, write_output};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// ONNX, opset 13.
    Onnx,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// A checkpoint saved by `convlab train` (its architecture and trained weights).
    #[arg(long, value_name = "CHECKPOINT")]
    model: PathBuf,
    #[arg(long, value_enum, default_value_t = ExportFormat::Onnx)]
    format: ExportFormat,
    /// Where to write the file (replaced atomically; nothing is written on an error).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

pub fn run(args: ExportArgs) -> Result<ExitCode> {
    super::check_output("--out", &args.out)?;
    super::check_not_input("--out", &args.out, "--model", &args.model)?;
    anyhow::ensure!(
        crate::model_arg::is_checkpoint(&args.model),
        "--model {}: export needs trained weights, a checkpoint written by `convlab train` (a model file has none)",
        args.model.display()
    );
    let model = load_model(&args.model)?;
    let bytes = match args.format {
        ExportFormat::Onnx => convlab_nn::onnx::to_onnx(&model)
            .with_context(|| format!("--model {}: cannot export to ONNX", args.model.display()))?,
    };
    write_output(&args.out, &bytes)?;
    let input = model.input_shape();
    outln!(
        "input \"input\": float32 [batch, {}] ({}), scaled to 0..1; output \"{}\" [batch, {}]",
        input
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        if input.len() == 3 {
            "NHWC, as convlab and Keras; the graph transposes to NCHW itself"
        } else {
            "as convlab"
        },
        if model
            .layers()
            .last()
            .is_some_and(|l| l.layer.activation() == convlab_nn::Activation::Softmax)
        {
            "probabilities"
        } else {
            "output"
        },
        model
            .output_shape()
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    Ok(ExitCode::SUCCESS)
}
