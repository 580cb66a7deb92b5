//! `convlab explain conv1d|conv|pool|im2col|winograd`: the chapter's 8-1 worked out on small
//! inputs, step by step, from the real kernels.
//!
//! Every number printed comes from convlab's own code: the f64 reference kernels
//! (`convlab_tensor::reference`) compute each output, the fast path that training runs for such a
//! layer computes it again, and the two are shown to agree; im2col's patch matrix is the one its
//! kernel builds (`conv2d::patch_matrix`), and Winograd's tile goes through the forward kernel's
//! own transforms (`conv2d::winograd_one_tile`). Inputs come from `--input` / `--kernel` (rows
//! separated by `;`, values by `,`) or are drawn from `--seed`; the defaults are the chapter's
//! examples: ten features and a kernel of three weights giving eight outputs, a 4x4 input with a
//! 3x3 kernel and `same` padding keeping 4x4 (add `--stride 2` to halve it), and 2x2 max pooling
//! of a 4x4 map.
//!
//! `conv.rs` holds the convolutions (1-D, 2-D, im2col), `pool.rs` pooling, `winograd.rs` one
//! Winograd tile; this file the arguments and the helpers they share.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use convlab_tensor::Padding;

mod conv;
mod pool;
mod winograd;

use conv::{conv, conv1d};
use pool::pool;
use winograd::winograd;

#[derive(Subcommand, Debug)]
pub enum ExplainCommand {
    /// One row of features and a 1-D kernel (default: 10 features, 3 weights, 8 outputs).
    Conv1d(Conv1dArgs),
    /// A 2-D convolution, window by window (default: 4x4 input, 3x3 kernel, same padding).
    Conv(ConvArgs),
    /// Max or average pooling, window by window (default: 2x2 max pooling of a 4x4 map).
    Pool(PoolArgs),
    /// The same convolution as one matrix product: the patch matrix times the kernel.
    Im2col(ConvArgs),
    /// Winograd F(2x2, 3x3) on one 4x4 tile: 16 multiplications instead of 36.
    Winograd(WinogradArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PaddingArg {
    Valid,
    Same,
}

impl From<PaddingArg> for Padding {
    fn from(p: PaddingArg) -> Padding {
        match p {
            PaddingArg::Valid => Padding::Valid,
            PaddingArg::Same => Padding::Same,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PoolKind {
    Max,
    Average,
}

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct Conv1dArgs {
    /// The features, e.g. "1,2,3,4,5,6,7,8,9,10" (default: those, or drawn from --seed).
    #[arg(long)]
    input: Option<String>,
    /// The kernel's weights, e.g. "0.1,0.2,0.3".
    #[arg(long)]
    kernel: Option<String>,
    #[arg(long, value_enum, default_value_t = PaddingArg::Valid)]
    padding: PaddingArg,
    #[arg(long, default_value_t = 1)]
    stride: usize,
    /// Explain only the output at this position (from 0).
    #[arg(long)]
    at: Option<usize>,
    /// Draw random inputs from this seed instead of the defaults.
    #[arg(long)]
    seed: Option<u64>,
    /// Also draw the figure (input, kernel, output, the window outlined) as SVG.
    #[arg(long)]
    svg: Option<PathBuf>,
}

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct ConvArgs {
    /// The input's rows, e.g. "1,2,3,4;5,6,7,8;9,10,11,12;13,14,15,16".
    #[arg(long)]
    input: Option<String>,
    /// The kernel's rows, e.g. "1,0,-1;1,0,-1;1,0,-1".
    #[arg(long)]
    kernel: Option<String>,
    #[arg(long, value_enum, default_value_t = PaddingArg::Same)]
    padding: PaddingArg,
    #[arg(long, default_value_t = 1)]
    stride: usize,
    /// Explain only the output at ROW,COL (from 0).
    #[arg(long, value_name = "ROW,COL")]
    at: Option<String>,
    #[arg(long)]
    seed: Option<u64>,
    /// Also draw the figure (padded input with the window, kernel, feature map) as SVG.
    #[arg(long)]
    svg: Option<PathBuf>,
}

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct PoolArgs {
    /// The map's rows (default: a 4x4 map).
    #[arg(long)]
    input: Option<String>,
    #[arg(long, default_value_t = 2)]
    pool_size: usize,
    /// Default: the pool size, as Keras.
    #[arg(long)]
    stride: Option<usize>,
    #[arg(long, value_enum, default_value_t = PoolKind::Max)]
    kind: PoolKind,
    #[arg(long, value_enum, default_value_t = PaddingArg::Valid)]
    padding: PaddingArg,
    /// Explain only the output at ROW,COL (from 0).
    #[arg(long, value_name = "ROW,COL")]
    at: Option<String>,
    #[arg(long)]
    seed: Option<u64>,
    #[arg(long)]
    svg: Option<PathBuf>,
}

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct WinogradArgs {
    /// One 4x4 input tile (default: 1..16).
    #[arg(long)]
    input: Option<String>,
    /// A 3x3 kernel.
    #[arg(long)]
    kernel: Option<String>,
    #[arg(long)]
    seed: Option<u64>,
}

pub fn run(cmd: ExplainCommand) -> Result<ExitCode> {
    match cmd {
        ExplainCommand::Conv1d(a) => conv1d(a),
        ExplainCommand::Conv(a) => conv(a, false),
        ExplainCommand::Im2col(a) => conv(a, true),
        ExplainCommand::Pool(a) => pool(a),
        ExplainCommand::Winograd(a) => winograd(a),
    }
}

/// The largest side `explain` takes: the point is to read every number.
const MAX_SIDE: usize = 16;

type Matrix = Vec<Vec<f32>>;

/// "1,2;3,4" as rows; every row the same length, every value a finite number.
fn parse_matrix(arg: &str, text: &str) -> Result<Matrix> {
    let rows: Vec<&str> = text.split(';').collect();
    let mut m = Vec::with_capacity(rows.len());
    for (r, row) in rows.iter().enumerate() {
        let mut values = Vec::new();
        for (c, v) in row.split(',').enumerate() {
            let v = v.trim();
            let value: f32 = v.parse().map_err(|_| {
                anyhow::anyhow!(
                    "{arg}: {v:?} at row {}, column {} is not a number",
                    r + 1,
                    c + 1
                )
            })?;
            anyhow::ensure!(
                value.is_finite(),
                "{arg}: {v} at row {}, column {} is not finite",
                r + 1,
                c + 1
            );
            values.push(value);
        }
        if let Some(first) = m.first().map(Vec::len) {
            anyhow::ensure!(
                values.len() == first,
                "{arg}: row {} has {} values but row 1 has {first} (rows are separated by ';')",
                r + 1,
                values.len()
            );
        }
        m.push(values);
    }
    anyhow::ensure!(
        m.len() <= MAX_SIDE && m[0].len() <= MAX_SIDE,
        "{arg}: {}x{} is larger than explain shows ({MAX_SIDE}x{MAX_SIDE} at most)",
        m.len(),
        m[0].len()
    );
    Ok(m)
}

/// `--input`, else values drawn from `seed`, else `default`: whole numbers 0..9 for inputs,
/// tenths in -1..1 for kernels.
fn matrix(
    arg: &str,
    given: &Option<String>,
    seed: Option<u64>,
    shape: (usize, usize),
    kernel: bool,
    default: Matrix,
) -> Result<Matrix> {
    if let Some(text) = given {
        return parse_matrix(arg, text);
    }
    let Some(seed) = seed else { return Ok(default) };
    let mut rng = convlab_nn::Rng::new(seed ^ u64::from(kernel));
    Ok((0..shape.0)
        .map(|_| {
            (0..shape.1)
                .map(|_| {
                    if kernel {
                        (rng.uniform_range(-1.0, 1.0) * 10.0).round() / 10.0
                    } else {
                        (rng.uniform() * 10.0).floor()
                    }
                })
                .collect()
        })
        .collect())
}

/// A 4x4 map with a different winner in each 2x2 window (the pooling and Winograd default).
fn chapter_map() -> Matrix {
    vec![
        vec![1.0, 3.0, 2.0, 4.0],
        vec![5.0, 6.0, 0.0, 1.0],
        vec![7.0, 2.0, 9.0, 8.0],
        vec![3.0, 4.0, 6.0, 5.0],
    ]
}

fn ramp(rows: usize, cols: usize) -> Matrix {
    (0..rows)
        .map(|r| (0..cols).map(|c| (r * cols + c + 1) as f32).collect())
        .collect()
}

/// A number as a person writes it: 3, 0.1, -2.25, 3.7 (no trailing zeros, 4 decimals at most).
fn num(v: f64) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

fn print_grid(title: &str, rows: &[Vec<String>]) -> Result<()> {
    outln!("{title}")?;
    let width = rows
        .iter()
        .flatten()
        .map(String::len)
        .max()
        .unwrap_or(1)
        .max(2);
    for row in rows {
        let line: Vec<String> = row.iter().map(|v| format!("{v:>width$}")).collect();
        outln!("  {}", line.join(" "))?;
    }
    Ok(())
}

fn grid_text(m: &Matrix) -> Vec<Vec<String>> {
    m.iter()
        .map(|r| r.iter().map(|&v| num(v as f64)).collect())
        .collect()
}

/// The output positions to explain: the one `--at ROW,COL` names (checked against the `rows x
/// cols` output, `what` naming it in the error), or every one in turn.
fn positions(
    at: &Option<String>,
    rows: usize,
    cols: usize,
    what: &str,
) -> Result<Vec<(usize, usize)>> {
    let Some(text) = at else {
        return Ok((0..rows)
            .flat_map(|r| (0..cols).map(move |c| (r, c)))
            .collect());
    };
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let [r, c] = parts[..] else {
        anyhow::bail!("--at {text:?}: give ROW,COL, e.g. 0,1")
    };
    let parse = |v: &str| {
        v.parse::<usize>()
            .with_context(|| format!("--at {text:?}: {v:?} is not a row or column number"))
    };
    let (r, c) = (parse(r)?, parse(c)?);
    anyhow::ensure!(
        r < rows && c < cols,
        "--at {r},{c} is out of range: the {what} is {rows}x{cols}"
    );
    Ok(vec![(r, c)])
}

/// The 3x3 kernel of the `conv`, `im2col` and `winograd` defaults.
fn chapter_kernel() -> Matrix {
    vec![
        vec![1.0, 0.0, 1.0],
        vec![0.0, 1.0, 0.0],
        vec![1.0, 0.0, 1.0],
    ]
}
