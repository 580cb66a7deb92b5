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

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use convlab_cli::draw::{grid_figure, Panel};
use convlab_tensor::conv2d::{conv2d_forward, patch_matrix, winograd_one_tile};
use convlab_tensor::gemm::{gemm, MatMut, MatRef};
use convlab_tensor::{plan, pool2d, reference, Conv2dGeometry, ConvAlgorithm, Padding};
use convlab_tensor::{Pool2dGeometry, Tensor};

use super::{check_output, write_output};

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

fn parse_at(text: &str) -> Result<(usize, usize)> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let [r, c] = parts[..] else {
        anyhow::bail!("--at {text:?}: give ROW,COL, e.g. 0,1")
    };
    let parse = |v: &str| {
        v.parse::<usize>()
            .with_context(|| format!("--at {text:?}: {v:?} is not a row or column number"))
    };
    Ok((parse(r)?, parse(c)?))
}

/// A one-channel convolution problem, checked.
struct ConvProblem {
    x: Matrix,
    k: Matrix,
    g: Conv2dGeometry,
    padding: Padding,
}

impl ConvProblem {
    fn new(x: Matrix, k: Matrix, stride: usize, padding: Padding) -> Result<ConvProblem> {
        anyhow::ensure!(
            (1..=8).contains(&stride),
            "--stride must be from 1 to 8, got {stride}"
        );
        let (h, w, kh, kw) = (x.len(), x[0].len(), k.len(), k[0].len());
        let g = Conv2dGeometry::new(&[1, h, w, 1], &[kh, kw, 1, 1], (stride, stride), padding)
            .map_err(|e| {
                anyhow::anyhow!(
                    "a {kh}x{kw} kernel on a {h}x{w} input with {padding:?} padding: {e}"
                )
            })?;
        // Under `same` a kernel can outgrow the input itself; then nothing would be left to see.
        anyhow::ensure!(
            kh <= h + g.pad_top * 2 + 1 && kw <= w + g.pad_left * 2 + 1,
            "the {kh}x{kw} kernel is larger than the padded {h}x{w} input"
        );
        Ok(ConvProblem { x, k, g, padding })
    }

    fn flat(m: &Matrix) -> Vec<f32> {
        m.iter().flatten().copied().collect()
    }

    /// The padded input: (value, is padding) for every cell of the grid the windows slide over.
    fn padded(&self) -> Vec<Vec<(f32, bool)>> {
        let g = &self.g;
        let rows = (g.ho - 1) * g.sh + g.kh;
        let cols = (g.wo - 1) * g.sw + g.kw;
        let (rows, cols) = (rows.max(g.h + g.pad_top), cols.max(g.w + g.pad_left));
        (0..rows)
            .map(|r| {
                (0..cols)
                    .map(|c| {
                        let (iy, ix) = (r.checked_sub(g.pad_top), c.checked_sub(g.pad_left));
                        match (iy, ix) {
                            (Some(iy), Some(ix)) if iy < g.h && ix < g.w => (self.x[iy][ix], false),
                            _ => (0.0, true),
                        }
                    })
                    .collect()
            })
            .collect()
    }

    /// y by the f64 reference loops, and by the fast path training would run.
    fn outputs(&self) -> (Vec<f64>, Vec<f32>, &'static str) {
        let (x, k) = (Self::flat(&self.x), Self::flat(&self.k));
        let wide = |v: &[f32]| v.iter().map(|&v| v as f64).collect::<Vec<f64>>();
        let y_ref = reference::conv2d_forward(&self.g, &wide(&x), &wide(&k), None);
        let xt = Tensor::from_vec("explain input", &self.g.x_shape(), x);
        let kt = Tensor::from_vec("explain kernel", &self.g.w_shape(), k);
        let y_fast = conv2d_forward(&self.g, &xt, &kt, None, ConvAlgorithm::Auto)
            .data()
            .to_vec();
        (
            y_ref,
            y_fast,
            plan::conv_kernel(&self.g, ConvAlgorithm::Auto).name(),
        )
    }

    /// `1*0.1 + 2*0.2 + ... = 3.7` for output (oy, ox), from the padded grid.
    fn window_sum(&self, padded: &[Vec<(f32, bool)>], oy: usize, ox: usize, y: f64) -> String {
        let (mut terms, mut in_padding) = (Vec::new(), 0);
        for ky in 0..self.g.kh {
            for kx in 0..self.g.kw {
                let (v, pad) = padded[oy * self.g.sh + ky][ox * self.g.sw + kx];
                if pad {
                    in_padding += 1;
                } else {
                    terms.push(format!("{}*{}", num(v as f64), num(self.k[ky][kx] as f64)));
                }
            }
        }
        let mut line = format!(
            "{} = {}",
            if terms.is_empty() {
                "0".into()
            } else {
                terms.join(" + ")
            },
            num(y)
        );
        if in_padding > 0 {
            line.push_str(&format!("   ({in_padding} taps in the padding add 0)"));
        }
        line
    }
}

fn agreement_line(y_ref: &[f64], y_fast: &[f32], fast: &str) -> Result<()> {
    let worst = y_ref
        .iter()
        .zip(y_fast)
        .map(|(&r, &f)| (r - f as f64).abs())
        .fold(0.0, f64::max);
    let how = if worst == 0.0 {
        "exactly".to_string()
    } else {
        format!("to {worst:.1e} (f32 rounding)")
    };
    outln!("The reference loops (f64, crates/tensor/src/reference/) and {fast} agree {how}.")?;
    Ok(())
}

fn conv1d(args: Conv1dArgs) -> Result<ExitCode> {
    if let Some(path) = &args.svg {
        check_output("--svg", path)?;
    }
    let as_row = |arg: &str,
                  given: &Option<String>,
                  n: usize,
                  kernel: bool,
                  default: Vec<f32>|
     -> Result<Vec<f32>> {
        if given.as_deref().is_some_and(|t| t.contains(';')) {
            anyhow::bail!("{arg}: one row of values for conv1d (no ';')");
        }
        Ok(matrix(arg, given, args.seed, (1, n), kernel, vec![default])?.remove(0))
    };
    let x = as_row(
        "--input",
        &args.input,
        10,
        false,
        (1..=10).map(|v| v as f32).collect(),
    )?;
    let k = as_row("--kernel", &args.kernel, 3, true, vec![0.1, 0.2, 0.3])?;
    let p = ConvProblem::new(
        vec![x.clone()],
        vec![k.clone()],
        args.stride,
        args.padding.into(),
    )?;
    let (y_ref, y_fast, fast) = p.outputs();
    let positions: Vec<usize> = match args.at {
        Some(at) => {
            anyhow::ensure!(
                at < y_ref.len(),
                "--at {at} is out of range: there are {} outputs (0..{})",
                y_ref.len(),
                y_ref.len()
            );
            vec![at]
        }
        None => (0..y_ref.len()).collect(),
    };
    let fast = format!("the fast path ({fast}, what training runs here)");
    outln!(
        "A 1-D convolution: {} features, a kernel of {} weights, stride {}, {:?} padding: {} outputs.",
        x.len(),
        k.len(),
        args.stride,
        p.padding,
        y_ref.len()
    )?;
    let padded = p.padded();
    let marked: Vec<String> = padded[0]
        .iter()
        .map(|&(v, pad)| if pad { "·".into() } else { num(v as f64) })
        .collect();
    print_grid("Features (· marks padding):", &[marked])?;
    print_grid("Kernel:", &grid_text(&vec![k]))?;
    outln!("Each output is the kernel's multiply-add over one window:")?;
    for &ox in &positions {
        outln!("  y[{ox}] = {}", p.window_sum(&padded, 0, ox, y_ref[ox]))?;
    }
    print_grid("Feature map:", &[y_ref.iter().map(|&v| num(v)).collect()])?;
    agreement_line(&y_ref, &y_fast, &fast)?;
    if let Some(path) = &args.svg {
        let at = positions[0];
        write_output(path, conv_figure(&p, &y_ref, (0, at)).as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn conv_figure(p: &ConvProblem, y: &[f64], (oy, ox): (usize, usize)) -> String {
    let padded = p.padded();
    let input = Panel {
        title: "input (padding shaded)".into(),
        cells: padded
            .iter()
            .map(|r| r.iter().map(|&(v, pad)| (num(v as f64), pad)).collect())
            .collect(),
        outline: Some((oy * p.g.sh, ox * p.g.sw, p.g.kh, p.g.kw)),
    };
    let kernel = Panel {
        title: "kernel".into(),
        cells: p
            .k
            .iter()
            .map(|r| r.iter().map(|&v| (num(v as f64), false)).collect())
            .collect(),
        outline: None,
    };
    let output = Panel {
        title: "feature map".into(),
        cells: y
            .chunks(p.g.wo)
            .map(|r| r.iter().map(|&v| (num(v), false)).collect())
            .collect(),
        outline: Some((oy, ox, 1, 1)),
    };
    grid_figure(&[input, kernel, output], &["⋆", "="])
}

fn conv(args: ConvArgs, as_gemm: bool) -> Result<ExitCode> {
    if let Some(path) = &args.svg {
        check_output("--svg", path)?;
    }
    let x = matrix("--input", &args.input, args.seed, (4, 4), false, ramp(4, 4))?;
    let default_kernel = vec![
        vec![1.0, 0.0, 1.0],
        vec![0.0, 1.0, 0.0],
        vec![1.0, 0.0, 1.0],
    ];
    let k = matrix(
        "--kernel",
        &args.kernel,
        args.seed,
        (3, 3),
        true,
        default_kernel,
    )?;
    let p = ConvProblem::new(x, k, args.stride, args.padding.into())?;
    let (y_ref, y_fast, fast) = p.outputs();
    let fast = format!("the fast path ({fast}, what training runs here)");
    let g = p.g;
    let positions: Vec<(usize, usize)> = match &args.at {
        Some(text) => {
            let (r, c) = parse_at(text)?;
            anyhow::ensure!(
                r < g.ho && c < g.wo,
                "--at {r},{c} is out of range: the feature map is {}x{}",
                g.ho,
                g.wo
            );
            vec![(r, c)]
        }
        None => (0..g.ho)
            .flat_map(|r| (0..g.wo).map(move |c| (r, c)))
            .collect(),
    };
    outln!(
        "A 2-D convolution: a {}x{} input, a {}x{} kernel, stride {}, {:?} padding ({} row(s) above, {} column(s) left by TensorFlow's rule): a {}x{} feature map.",
        g.h, g.w, g.kh, g.kw, g.sh, p.padding, g.pad_top, g.pad_left, g.ho, g.wo
    )?;
    let padded = p.padded();
    let marked: Vec<Vec<String>> = padded
        .iter()
        .map(|r| {
            r.iter()
                .map(|&(v, pad)| if pad { "·".into() } else { num(v as f64) })
                .collect()
        })
        .collect();
    print_grid("Input (· marks padding):", &marked)?;
    print_grid("Kernel:", &grid_text(&p.k))?;
    if as_gemm {
        im2col(&p, &y_ref, &y_fast, &fast)?;
        if let Some(path) = &args.svg {
            write_output(path, conv_figure(&p, &y_ref, positions[0]).as_bytes())?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    outln!("Each output is the kernel's multiply-add over one window:")?;
    for &(r, c) in &positions {
        outln!(
            "  y[{r},{c}] = {}",
            p.window_sum(&padded, r, c, y_ref[r * g.wo + c])
        )?;
    }
    let map: Vec<Vec<String>> = y_ref
        .chunks(g.wo)
        .map(|r| r.iter().map(|&v| num(v)).collect())
        .collect();
    print_grid("Feature map:", &map)?;
    agreement_line(&y_ref, &y_fast, &fast)?;
    if let Some(path) = &args.svg {
        write_output(path, conv_figure(&p, &y_ref, positions[0]).as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The patch matrix, the GEMM, and its agreement with the loops.
fn im2col(p: &ConvProblem, y_ref: &[f64], y_fast: &[f32], fast: &str) -> Result<()> {
    let g = p.g;
    let x = Tensor::from_vec("explain input", &g.x_shape(), ConvProblem::flat(&p.x));
    let patches = patch_matrix(&g, &x);
    let taps = g.kh * g.kw;
    outln!(
        "im2col unrolls every window into one row of a patch matrix ({} windows x {} taps; padding taps are 0), so the loops become one matrix product, patches · kernel:",
        g.ho * g.wo,
        taps
    )?;
    let header: Vec<String> = (0..g.kh)
        .flat_map(|ky| (0..g.kw).map(move |kx| format!("k{ky}{kx}")))
        .collect();
    outln!(
        "  {:>7}  {}",
        "window",
        header.iter().map(|h| format!("{h:>5}")).collect::<String>()
    )?;
    for (row, values) in patches.chunks(taps).enumerate() {
        let cells: String = values
            .iter()
            .map(|&v| format!("{:>5}", num(v as f64)))
            .collect();
        outln!(
            "  {:>7}  {cells}",
            format!("({},{})", row / g.wo, row % g.wo)
        )?;
    }
    let kernel: Vec<f32> = ConvProblem::flat(&p.k);
    outln!(
        "The kernel as a column of {taps}: {}",
        kernel
            .iter()
            .map(|&v| num(v as f64))
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    let mut product = vec![0.0f32; g.ho * g.wo];
    gemm(
        1.0,
        MatRef::row_major(&patches, g.ho * g.wo, taps),
        MatRef::row_major(&kernel, taps, 1),
        0.0,
        MatMut::row_major(&mut product, g.ho * g.wo, 1),
    );
    outln!("patches · kernel, one value per window, read back as the feature map:")?;
    let map: Vec<Vec<String>> = product
        .chunks(g.wo)
        .map(|r| r.iter().map(|&v| num(v as f64)).collect())
        .collect();
    print_grid("", &map)?;
    agreement_line(y_ref, &product, "the GEMM on this patch matrix")?;
    agreement_line(y_ref, y_fast, fast)?;
    Ok(())
}

fn pool(args: PoolArgs) -> Result<ExitCode> {
    if let Some(path) = &args.svg {
        check_output("--svg", path)?;
    }
    let default = vec![
        vec![1.0, 3.0, 2.0, 4.0],
        vec![5.0, 6.0, 0.0, 1.0],
        vec![7.0, 2.0, 9.0, 8.0],
        vec![3.0, 4.0, 6.0, 5.0],
    ];
    let x = matrix("--input", &args.input, args.seed, (4, 4), false, default)?;
    let stride = args.stride.unwrap_or(args.pool_size);
    anyhow::ensure!(
        (1..=8).contains(&args.pool_size),
        "--pool-size must be from 1 to 8"
    );
    anyhow::ensure!(
        (1..=8).contains(&stride),
        "--stride must be from 1 to 8, got {stride}"
    );
    let (h, w) = (x.len(), x[0].len());
    let padding: Padding = args.padding.into();
    let g = Pool2dGeometry::new(
        &[1, h, w, 1],
        (args.pool_size, args.pool_size),
        (stride, stride),
        padding,
    )
    .map_err(|e| anyhow::anyhow!("a {0}x{0} pool on a {h}x{w} map: {e}", args.pool_size))?;
    let flat: Vec<f32> = x.iter().flatten().copied().collect();
    let wide: Vec<f64> = flat.iter().map(|&v| v as f64).collect();
    let positions: Vec<(usize, usize)> = match &args.at {
        Some(text) => {
            let (r, c) = parse_at(text)?;
            anyhow::ensure!(
                r < g.ho && c < g.wo,
                "--at {r},{c} is out of range: the pooled map is {}x{}",
                g.ho,
                g.wo
            );
            vec![(r, c)]
        }
        None => (0..g.ho)
            .flat_map(|r| (0..g.wo).map(move |c| (r, c)))
            .collect(),
    };
    let xt = Tensor::from_vec("explain map", &g.x_shape(), flat);
    let (y_ref, winners, y_fast) = match args.kind {
        PoolKind::Max => {
            let (y, argmax) = reference::max_pool2d_forward(&g, &wide);
            let fast = pool2d::max_pool2d_forward(&g, &xt);
            anyhow::ensure!(
                fast.argmax
                    .iter()
                    .zip(&argmax)
                    .all(|(&a, &b)| a as usize == b),
                "the fast max pooling picked another winner than the reference (a bug)"
            );
            (y, Some(argmax), fast.y.data().to_vec())
        }
        PoolKind::Average => (
            reference::avg_pool2d_forward(&g, &wide),
            None,
            pool2d::avg_pool2d_forward(&g, &xt).data().to_vec(),
        ),
    };
    outln!(
        "{} pooling: a {h}x{w} map, {}x{} windows, stride {stride}, {padding:?} padding: a {}x{} map (the same number of maps, each smaller).",
        if args.kind == PoolKind::Max { "Max" } else { "Average" },
        args.pool_size, args.pool_size, g.ho, g.wo
    )?;
    print_grid("Map:", &grid_text(&x))?;
    for &(oy, ox) in &positions {
        // The window's real cells (padding is not a value: it never wins and is not counted).
        let cells: Vec<(usize, usize)> = (0..g.ph)
            .filter_map(|ky| (oy * g.sh + ky).checked_sub(g.pad_top).filter(|&r| r < h))
            .flat_map(|r| {
                (0..g.pw).filter_map(move |kx| {
                    (ox * g.sw + kx)
                        .checked_sub(g.pad_left)
                        .filter(|&c| c < w)
                        .map(|c| (r, c))
                })
            })
            .collect();
        let values: Vec<String> = cells.iter().map(|&(r, c)| num(x[r][c] as f64)).collect();
        let out = y_ref[oy * g.wo + ox];
        match &winners {
            Some(argmax) => {
                let at = argmax[oy * g.wo + ox];
                outln!(
                    "  y[{oy},{ox}] = max({}) = {}, the cell at row {}, column {} wins",
                    values.join(", "),
                    num(out),
                    at / w,
                    at % w
                )?;
            }
            None => outln!(
                "  y[{oy},{ox}] = ({}) / {} = {}",
                values.join(" + "),
                cells.len(),
                num(out)
            )?,
        }
    }
    let map: Vec<Vec<String>> = y_ref
        .chunks(g.wo)
        .map(|r| r.iter().map(|&v| num(v)).collect())
        .collect();
    print_grid("Pooled map:", &map)?;
    agreement_line(&y_ref, &y_fast, "convlab_tensor::pool2d")?;
    if let Some(path) = &args.svg {
        let (oy, ox) = positions[0];
        let input = Panel {
            title: "feature map".into(),
            cells: x
                .iter()
                .map(|r| r.iter().map(|&v| (num(v as f64), false)).collect())
                .collect(),
            outline: Some((
                (oy * g.sh).saturating_sub(g.pad_top),
                (ox * g.sw).saturating_sub(g.pad_left),
                g.ph.min(h),
                g.pw.min(w),
            )),
        };
        let output = Panel {
            title: if args.kind == PoolKind::Max {
                "max pooled"
            } else {
                "average pooled"
            }
            .into(),
            cells: map
                .iter()
                .map(|r| r.iter().map(|v| (v.clone(), false)).collect())
                .collect(),
            outline: Some((oy, ox, 1, 1)),
        };
        write_output(path, grid_figure(&[input, output], &["→"]).as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn winograd(args: WinogradArgs) -> Result<ExitCode> {
    let d = matrix(
        "--input",
        &args.input,
        args.seed,
        (4, 4),
        false,
        chapter_map(),
    )?;
    let default_kernel = vec![
        vec![1.0, 0.0, 1.0],
        vec![0.0, 1.0, 0.0],
        vec![1.0, 0.0, 1.0],
    ];
    let k = matrix(
        "--kernel",
        &args.kernel,
        args.seed,
        (3, 3),
        true,
        default_kernel,
    )?;
    anyhow::ensure!(
        d.len() == 4 && d[0].len() == 4 && k.len() == 3 && k[0].len() == 3,
        "Winograd F(2x2, 3x3) works on one 4x4 tile with a 3x3 kernel: got a {}x{} --input and a {}x{} --kernel",
        d.len(), d[0].len(), k.len(), k[0].len()
    );
    let d16: [f32; 16] = std::array::from_fn(|i| d[i / 4][i % 4]);
    let k9: [f32; 9] = std::array::from_fn(|i| k[i / 3][i % 3]);
    let tile = winograd_one_tile(&d16, &k9);
    let grid4 = |v: &[f32; 16]| -> Vec<Vec<String>> {
        v.chunks(4)
            .map(|r| r.iter().map(|&x| num(x as f64)).collect())
            .collect()
    };
    outln!("Winograd F(2x2, 3x3): the 2x2 outputs of a 3x3 kernel on a 4x4 tile, from 16 multiplications instead of 36.")?;
    print_grid("Input tile d:", &grid_text(&d))?;
    print_grid("Kernel g:", &grid_text(&k))?;
    print_grid(
        "V = Bᵀ d B (the tile transformed: only additions and subtractions):",
        &grid4(&tile.v),
    )?;
    print_grid(
        "U = G g Gᵀ (the kernel transformed, once per kernel, not per tile):",
        &grid4(&tile.u),
    )?;
    outln!("M = U ⊙ V, element by element: the 16 multiplications")?;
    for e in 0..16 {
        outln!(
            "  m[{},{}] = {} * {} = {}",
            e / 4,
            e % 4,
            num(tile.u[e] as f64),
            num(tile.v[e] as f64),
            num(tile.m[e] as f64)
        )?;
    }
    print_grid(
        "Y = Aᵀ M A (additions again): the 2x2 outputs",
        &[
            vec![num(tile.y[0] as f64), num(tile.y[1] as f64)],
            vec![num(tile.y[2] as f64), num(tile.y[3] as f64)],
        ],
    )?;
    outln!(
        "Multiplications: 16 for these 4 outputs; the direct way needs 4 x 9 = 36 (2.25x more)."
    )?;
    // The same outputs by the reference loops and by the Winograd kernel training runs.
    let p = ConvProblem::new(d, k, 1, Padding::Valid)?;
    let (y_ref, _, _) = p.outputs();
    agreement_line(&y_ref, &tile.y, "this tile's transforms")?;
    let xt = Tensor::from_vec("explain tile", &p.g.x_shape(), d16.to_vec());
    let kt = Tensor::from_vec("explain kernel", &p.g.w_shape(), k9.to_vec());
    let by_kernel = conv2d_forward(&p.g, &xt, &kt, None, ConvAlgorithm::Winograd);
    agreement_line(&y_ref, by_kernel.data(), "the Winograd convolution kernel")?;
    Ok(ExitCode::SUCCESS)
}
