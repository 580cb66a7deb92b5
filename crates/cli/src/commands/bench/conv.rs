//! `convlab bench conv`: convolution benchmarks a reader could publish, in benchdnn's spirit.
//!
//! A problem is a layer, `HxWxC:KHxKW:COUT:STRIDE:PAD` (`--shape`, one per line of a
//! `--batch-file`, or every Conv2D of `--model`), at a batch (`--batch`, or `--sweep
//! batch=1,8,32`; `--sweep channels=16,32,64` sets C and COUT both). For each problem, on each
//! thread count of `--threads-list`, every algorithm (im2col, direct, Winograd where it
//! applies) and the fused Conv2D(relu) + MaxPooling2D(2) plan training runs, forward (`fwd`) and
//! backward (`bwd`: dx, dw and db in one call, as training runs it):
//!
//! - checked first against the f64 reference on two images of the problem, forward and every
//!   gradient (`max_rel_err` is the worst element's relative error); a wrong kernel stops the
//!   bench, it is never reported as fast;
//! - timed: min and median of at least 5 runs and `--seconds`, after a warm-up;
//! - GFLOP/s: 2 FLOP per multiply-add of direct convolution for every algorithm (the backward
//!   counts twice the forward's), the same convention as cuDNN's and benchdnn's reports, and
//!   its share of this machine's measured FMA peak on that many threads (`bench peak`);
//! - memory: `extra_bytes`, the most the call allocated beyond what was in use when it
//!   started (all of convlab's kept scratch freed first, so nothing hides in a cache), and
//!   `workspace_bytes`, that less what the call returns (y; dx, dw and db): im2col's patch
//!   matrices, Winograd's tiles, padded copies.
//!
//! `--format table` (default), `csv` or `json` (one object per line).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use convlab_nn::Layer;
use convlab_tensor::conv2d::{
    conv2d_backward, conv2d_forward, direct_backward_bias, direct_backward_data, winograd_applies,
    Conv2dGrads,
};
use convlab_tensor::conv_relu_pool::{
    conv2d_relu_max_pool2d_backward, conv2d_relu_max_pool2d_forward,
};
use convlab_tensor::plan;
use convlab_tensor::recycle::release_scratch;
use convlab_tensor::reference::agreement::{self, ConvCase};
use convlab_tensor::reference::report::CheckResult;
use convlab_tensor::{Conv2dGeometry, ConvAlgorithm, Padding, Pool2dGeometry, Tensor};

use super::ConvArg;
use crate::alloc_peak;
use crate::memory;
use crate::model_arg::model_or_chapter;
use convlab_cli::draw::{bench_plot, BenchPanel, BenchSeries};

/// The algorithms bench conv times (each checked against the reference, which is not timed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BenchAlgorithm {
    Im2col,
    Direct,
    Winograd,
}

impl From<BenchAlgorithm> for ConvAlgorithm {
    fn from(a: BenchAlgorithm) -> Self {
        match a {
            BenchAlgorithm::Im2col => ConvAlgorithm::Im2col,
            BenchAlgorithm::Direct => ConvAlgorithm::Direct,
            BenchAlgorithm::Winograd => ConvAlgorithm::Winograd,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct ConvBenchArgs {
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// A layer as HxWxC:KHxKW:COUT:STRIDE:PAD, e.g. 14x14x32:3x3:64:1:same (repeatable; default:
    /// the chapter's two conv layers).
    #[arg(long)]
    shape: Vec<String>,
    /// Benchmark the Conv2D layers of this model (a model file or a checkpoint) instead.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["shape", "batch_file"])]
    model: Option<PathBuf>,
    /// A file of problems, one HxWxC:KHxKW:COUT:STRIDE:PAD a line (# starts a comment).
    #[arg(long, value_name = "FILE", conflicts_with = "shape")]
    batch_file: Option<PathBuf>,
    /// batch=1,8,32 (instead of --batch) or channels=16,32,64 (C and COUT of every problem).
    #[arg(long, value_name = "VAR=LIST")]
    sweep: Option<String>,
    /// Thread counts to run on, e.g. 1,2 (default: the pool's, --threads).
    #[arg(long, value_delimiter = ',')]
    threads_list: Vec<usize>,
    /// Minimum time spent measuring each case, in seconds.
    #[arg(long, default_value_t = 1.0)]
    seconds: f64,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// The algorithms to time, e.g. im2col,direct (default: im2col, direct and, where it
    /// applies, winograd).
    #[arg(long, value_enum, value_delimiter = ',')]
    algorithms: Vec<BenchAlgorithm>,
    /// Also draw GFLOP/s against the swept variable (or the problems) as an SVG: one line per
    /// algorithm, one panel per direction, the measured FMA peak dashed.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
}

/// One measured case: a problem, a plan, a direction.
struct Row {
    problem: String,
    batch: usize,
    threads: usize,
    algorithm: String,
    direction: &'static str,
    min_ms: f64,
    median_ms: f64,
    gflops: f64,
    peak_share: f64,
    extra_bytes: usize,
    workspace_bytes: usize,
    max_rel_err: f64,
}

/// The swept variable.
enum Sweep {
    Batch(Vec<usize>),
    Channels(Vec<usize>),
}

fn parse_sweep(text: &str) -> Result<Sweep> {
    let bad =
        || format!("--sweep {text:?}: expected batch=LIST or channels=LIST, e.g. batch=1,8,32");
    let (var, list) = text.split_once('=').with_context(bad)?;
    let values: Vec<usize> = list
        .split(',')
        .map(|v| v.trim().parse::<usize>())
        .collect::<Result<_, _>>()
        .with_context(bad)?;
    anyhow::ensure!(
        !values.is_empty()
            && values.len() <= 64
            && values.iter().all(|&v| (1..=1 << 16).contains(&v)),
        "--sweep {text:?}: 1 to 64 values, each from 1 to 65536"
    );
    match var.trim() {
        "batch" => Ok(Sweep::Batch(values)),
        "channels" => Ok(Sweep::Channels(values)),
        _ => anyhow::bail!(bad()),
    }
}

/// The problems of a `--batch-file`.
fn read_batch_file(path: &Path) -> Result<Vec<String>> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("--batch-file {}", path.display()))?;
    anyhow::ensure!(
        meta.is_file() && meta.len() <= 1 << 20,
        "--batch-file {}: not a regular file of at most 1 MiB",
        path.display()
    );
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--batch-file {}", path.display()))?;
    let mut problems = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        parse_shape(line).with_context(|| format!("--batch-file {}:{}", path.display(), i + 1))?;
        problems.push(line.to_string());
    }
    anyhow::ensure!(
        !problems.is_empty(),
        "--batch-file {}: no problems in it",
        path.display()
    );
    Ok(problems)
}

/// A convolution layer to benchmark: input (H, W, C), kernel (KH, KW), output channels, stride
/// and padding.
pub struct LayerShape {
    pub input: [usize; 3],
    pub kernel: [usize; 2],
    pub cout: usize,
    pub stride: usize,
    pub padding: Padding,
}

/// A layer shape from `HxWxC:KxK:COUT:STRIDE:PAD`.
pub fn parse_shape(text: &str) -> Result<LayerShape> {
    let bad = || {
        format!("--shape {text:?}: expected HxWxC:KxK:COUT:STRIDE:PAD, e.g. 14x14x32:3x3:64:1:same")
    };
    let parts: Vec<&str> = text.split(':').collect();
    let [input, kernel, cout, stride, pad] = parts[..] else {
        anyhow::bail!(bad());
    };
    let numbers = |s: &str, n: usize| -> Result<Vec<usize>> {
        let v: Vec<usize> = s
            .split('x')
            .map(|d| d.trim().parse::<usize>())
            .collect::<Result<_, _>>()
            .with_context(bad)?;
        anyhow::ensure!(v.len() == n && v.iter().all(|&d| d > 0), bad());
        Ok(v)
    };
    let i = numbers(input, 3)?;
    let k = numbers(kernel, 2)?;
    let cout = numbers(cout, 1)?[0];
    let stride = numbers(stride, 1)?[0];
    let padding = match pad.to_ascii_lowercase().as_str() {
        "same" => Padding::Same,
        "valid" => Padding::Valid,
        _ => anyhow::bail!(bad()),
    };
    Ok(LayerShape {
        input: [i[0], i[1], i[2]],
        kernel: [k[0], k[1]],
        cout,
        stride,
        padding,
    })
}

fn values(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = convlab_nn::Rng::new(seed);
    (0..len).map(|_| rng.uniform_range(-1.0, 1.0)).collect()
}

/// Min and median wall time of `f` over at least 5 runs and `min_time` (after one warm-up run).
fn time(min_time: Duration, mut f: impl FnMut()) -> (Duration, Duration) {
    f();
    let mut times = Vec::new();
    let started = Instant::now();
    while times.len() < 5 || started.elapsed() < min_time {
        let t = Instant::now();
        f();
        times.push(t.elapsed());
        if times.len() >= 1000 {
            break;
        }
    }
    times.sort();
    (times[0], times[times.len() / 2])
}

/// The most `f` allocates beyond what is in use, with every kept scratch buffer freed first,
/// and the bytes of what it returns.
fn extra_memory<R>(f: impl FnOnce() -> R, returned: impl Fn(&R) -> usize) -> (usize, usize) {
    release_scratch();
    alloc_peak::start();
    let result = f();
    let extra = alloc_peak::stop();
    let kept = returned(&result);
    (extra, extra.saturating_sub(kept))
}

fn grads_bytes(g: &Conv2dGrads) -> usize {
    4 * (g.dx.as_ref().map_or(0, Tensor::len) + g.dw.len() + g.db.len())
}

/// The worst relative error of the checks of one result (`dx`, `dw`, `db`).
fn worst_of(checks: &[CheckResult], what: &str) -> f64 {
    checks
        .iter()
        .filter(|c| c.check.ends_with(&format!(" {what}")))
        .map(|c| c.max_rel_err)
        .fold(0.0, f64::max)
}

fn worst(checks: &[CheckResult], forward: bool) -> f64 {
    checks
        .iter()
        .filter(|c| c.check.ends_with(" y") == forward)
        .map(|c| c.max_rel_err)
        .fold(0.0, f64::max)
}

pub fn run(args: ConvBenchArgs) -> Result<ExitCode> {
    anyhow::ensure!(args.batch >= 1, "--batch must be at least 1");
    anyhow::ensure!(
        args.seconds.is_finite() && (0.0..=3600.0).contains(&args.seconds),
        "--seconds must be between 0 and 3600, got {}",
        args.seconds
    );
    let problems = match (&args.model, &args.batch_file) {
        (Some(path), _) => model_conv_shapes(path)?,
        (None, Some(path)) => read_batch_file(path)?,
        (None, None) if args.shape.is_empty() => vec![
            "28x28x1:3x3:32:1:same".to_string(),
            "14x14x32:3x3:64:1:same".to_string(),
        ],
        (None, None) => args.shape.clone(),
    };
    for p in &problems {
        parse_shape(p)?;
    }
    let sweep = args.sweep.as_deref().map(parse_sweep).transpose()?;
    let chosen: Vec<ConvAlgorithm> = if args.algorithms.is_empty() {
        vec![
            ConvAlgorithm::Im2col,
            ConvAlgorithm::Direct,
            ConvAlgorithm::Winograd,
        ]
    } else {
        args.algorithms.iter().map(|&a| a.into()).collect()
    };
    let threads = if args.threads_list.is_empty() {
        vec![rayon::current_num_threads()]
    } else {
        args.threads_list.clone()
    };
    for &t in &threads {
        anyhow::ensure!(
            (1..=1024).contains(&t),
            "--threads-list {t}: each count must be between 1 and 1024"
        );
    }
    // Every (problem, batch) to run, the sweep applied.
    let mut cases: Vec<(String, usize)> = Vec::new();
    for p in &problems {
        match &sweep {
            None => cases.push((p.clone(), args.batch)),
            Some(Sweep::Batch(list)) => cases.extend(list.iter().map(|&b| (p.clone(), b))),
            Some(Sweep::Channels(list)) => {
                let s = parse_shape(p)?;
                for &c in list {
                    let pad = if s.padding == Padding::Same {
                        "same"
                    } else {
                        "valid"
                    };
                    cases.push((
                        format!(
                            "{}x{}x{c}:{}x{}:{c}:{}:{pad}",
                            s.input[0], s.input[1], s.kernel[0], s.kernel[1], s.stride
                        ),
                        args.batch,
                    ));
                }
            }
        }
    }
    if let Some(plot) = &args.plot {
        crate::commands::check_svg_output(
            "--plot",
            plot,
            &[
                ("--model", args.model.as_deref()),
                ("--batch-file", args.batch_file.as_deref()),
            ],
        )?;
    }
    let min_time = Duration::from_secs_f64(args.seconds);
    let mut measured: Vec<Row> = Vec::new();
    let mut peaks: Vec<(usize, f64)> = Vec::new();
    if args.format == Format::Table {
        outln!(
            "vector kernels {}; min and median of >= {:.1}s per case; GFLOP/s counts direct convolution's multiply-adds (x2) for every algorithm",
            convlab_tensor::isa::describe(),
            args.seconds
        )?;
    } else if args.format == Format::Csv {
        outln!("problem,batch,threads,algorithm,direction,min_ms,median_ms,gflops,peak_share,extra_bytes,workspace_bytes,max_rel_err")?;
    }
    for &t in &threads {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .context("starting the thread pool")?;
        let peak = convlab_tensor::peak::measure(t, 3, Duration::from_millis(200)).gflops;
        peaks.push((t, peak));
        if args.format == Format::Table {
            outln!("{t} thread(s): measured FMA peak {peak:.1} GFLOP/s")?;
            outln!(
                "{:<24} {:>5} {:<34} {:<11} {:>9} {:>9} {:>8} {:>6} {:>11} {:>9}",
                "problem",
                "batch",
                "algorithm",
                "dir",
                "min ms",
                "median ms",
                "GFLOP/s",
                "peak",
                "workspace",
                "rel err"
            )?;
        }
        for (problem, batch) in &cases {
            let rows = pool.install(|| measure(problem, *batch, t, peak, min_time, &chosen))?;
            print_rows(&rows, args.format)?;
            measured.extend(rows);
        }
    }
    if args.format == Format::Table {
        outln!(
            "* = fastest of the problem's direction. bwd = dx, dw and db in one call (2x the forward's FLOP), as training runs a hidden layer; bwd_weights = dw and db, as it runs a first layer;\nbwd_data (dx) and bwd_bias (db, one FLOP an element of dy) alone only for direct: im2col and Winograd make dx and dw in one pass over the same blocks. peak = GFLOP/s over the measured FMA peak, with direct convolution's FLOP for every\nalgorithm, padding taps included: Winograd F(2x2, 3x3) does 2.25x fewer multiplications and direct skips the taps on `same` padding, so either can pass 100%. workspace = the most the call allocated beyond its inputs and what it returns.\nrel err = the worst element's relative error against the f64 reference (every row passed the reference check before it was timed)."
        )?;
    }
    if let Some(path) = &args.plot {
        let svg = plot(&measured, &peaks, sweep.as_ref(), &problems);
        convlab_cli::draw::write_atomic(path, svg.as_bytes())?;
        if args.format == Format::Table {
            outln!("wrote {}", path.display())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The `--plot` picture: x = the swept batch or channel count, or each problem when nothing is
/// swept; one line per algorithm (and problem or thread count, when there are several).
fn plot(
    rows: &[Row],
    peaks: &[(usize, f64)],
    sweep: Option<&Sweep>,
    problems: &[String],
) -> String {
    let x_of = |r: &Row| -> String {
        match sweep {
            Some(Sweep::Batch(_)) => r.batch.to_string(),
            Some(Sweep::Channels(_)) => parse_shape(&r.problem)
                .map(|s| s.input[2].to_string())
                .unwrap_or_default(),
            None => r.problem.clone(),
        }
    };
    let xlabel = match sweep {
        Some(Sweep::Batch(_)) => "batch",
        Some(Sweep::Channels(_)) => "channels (C = COUT)",
        None => "problem",
    };
    let mut x_labels: Vec<String> = Vec::new();
    for r in rows {
        let x = x_of(r);
        if !x_labels.contains(&x) {
            x_labels.push(x);
        }
    }
    let several_threads = peaks.len() > 1;
    let several_problems = sweep.is_some() && problems.len() > 1;
    let mut panels = Vec::new();
    for direction in ["fwd", "bwd_data", "bwd_weights", "bwd"] {
        let mut series: Vec<BenchSeries> = Vec::new();
        for r in rows.iter().filter(|r| r.direction == direction) {
            let mut label = r.algorithm.clone();
            if several_problems {
                label = format!("{label}, {}", r.problem);
            }
            if several_threads {
                label = format!("{label}, {} thr", r.threads);
            }
            let x = x_labels.iter().position(|l| *l == x_of(r)).unwrap_or(0);
            match series.iter_mut().find(|s| s.label == label) {
                Some(s) => s.points.push((x, r.gflops)),
                None => series.push(BenchSeries {
                    label,
                    points: vec![(x, r.gflops)],
                }),
            }
        }
        if series.is_empty() {
            continue;
        }
        let title = match direction {
            "fwd" => "forward",
            "bwd_data" => "backward, dx alone",
            "bwd_weights" => "backward, dw and db",
            _ => "backward, dx, dw and db",
        };
        panels.push(BenchPanel {
            title: title.to_string(),
            series,
            peaks: peaks
                .iter()
                .map(|&(t, p)| (format!("FMA peak, {t} thread(s)"), p))
                .collect(),
        });
    }
    bench_plot(xlabel, &x_labels, &panels)
}

fn print_rows(rows: &[Row], format: Format) -> Result<()> {
    let best = |dir: &str| {
        rows.iter()
            .filter(|r| r.direction == dir)
            .map(|r| r.median_ms)
            .fold(f64::INFINITY, f64::min)
    };
    for r in rows {
        match format {
            Format::Table => {
                let fastest = r.median_ms == best(r.direction);
                outln!(
                    "{:<24} {:>5} {:<34} {:<11} {:>9.3} {:>8.3}{} {:>8.1} {:>5.1}% {:>11} {:>9.1e}",
                    r.problem,
                    r.batch,
                    r.algorithm,
                    r.direction,
                    r.min_ms,
                    r.median_ms,
                    if fastest { "*" } else { " " },
                    r.gflops,
                    100.0 * r.peak_share,
                    human_bytes(r.workspace_bytes),
                    r.max_rel_err
                )?;
            }
            Format::Csv => outln!(
                "{},{},{},\"{}\",{},{:.4},{:.4},{:.2},{:.4},{},{},{:.3e}",
                r.problem,
                r.batch,
                r.threads,
                r.algorithm,
                r.direction,
                r.min_ms,
                r.median_ms,
                r.gflops,
                r.peak_share,
                r.extra_bytes,
                r.workspace_bytes,
                r.max_rel_err
            )?,
            Format::Json => outln!(
                "{}",
                serde_json::json!({
                    "problem": r.problem,
                    "batch": r.batch,
                    "threads": r.threads,
                    "algorithm": r.algorithm,
                    "direction": r.direction,
                    "min_ms": r.min_ms,
                    "median_ms": r.median_ms,
                    "gflops": r.gflops,
                    "peak_share": r.peak_share,
                    "extra_bytes": r.extra_bytes,
                    "workspace_bytes": r.workspace_bytes,
                    "max_rel_err": r.max_rel_err,
                    "isa": convlab_tensor::isa::active().name(),
                })
            )?,
        }
    }
    Ok(())
}

fn human_bytes(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

/// Every plan of one problem at one batch on the current pool: checked, metered, timed.
fn measure(
    text: &str,
    batch: usize,
    threads: usize,
    peak: f64,
    min_time: Duration,
    chosen: &[ConvAlgorithm],
) -> Result<Vec<Row>> {
    let LayerShape {
        input: [h, w, c],
        kernel: [kh, kw],
        cout,
        stride,
        padding,
    } = parse_shape(text)?;
    let g = Conv2dGeometry::new(
        &[batch, h, w, c],
        &[kh, kw, c, cout],
        (stride, stride),
        padding,
    )
    .with_context(|| format!("--shape {text}"))?;
    // x and dx, w and dw, y, dy and a second y, and im2col's patch matrix at most.
    let size = |dims: &[usize]| dims.iter().map(|&d| d as f64).product::<f64>();
    let buffers = 2.0 * size(&g.x_shape())
        + 2.0 * size(&g.w_shape())
        + 3.0 * size(&g.y_shape())
        + size(&[g.n, g.ho, g.wo, g.kh, g.kw, g.c]);
    memory::ensure_fits(&format!("--shape {text} at batch {batch}"), buffers * 4.0)?;
    let x = Tensor::new(&g.x_shape(), values(batch * h * w * c, 1))?;
    let k = Tensor::new(&g.w_shape(), values(kh * kw * c * cout, 2))?;
    let bias = Tensor::new(&[cout], values(cout, 4))?;
    let dy = Tensor::new(&g.y_shape(), values(g.n * g.ho * g.wo * cout, 3))?;
    // Checked before timed: every plan against the f64 reference on two images of this shape,
    // forward and every gradient (a wrong kernel is reported as wrong, never as fast).
    let small = Conv2dGeometry { n: g.n.min(2), ..g };
    let t = |shape: &[usize], s: u64| agreement::random_tensor(shape, 10 + s);
    let (cx, cw, cb, cdy) = (
        t(&small.x_shape(), 1),
        t(&small.w_shape(), 2),
        t(&[cout], 3),
        t(&small.y_shape(), 4),
    );
    let case = ConvCase {
        g: &small,
        x: &cx,
        w: &cw,
        b: &cb,
        dy: &cdy,
    };
    let pool = Pool2dGeometry::new(&g.y_shape(), (2, 2), (2, 2), Padding::Valid).ok();
    let flops = 2.0 * g.forward_fmas() as f64;
    let mut rows = Vec::new();
    let mut push = |algorithm: String,
                    direction,
                    (min, median): (Duration, Duration),
                    mem: (usize, usize),
                    err| {
        // dx and dw each cost the forward's multiply-adds; db one addition per dy element.
        let work = match direction {
            "bwd" => 2.0 * flops,
            "bwd_bias" => (g.n * g.ho * g.wo * g.co) as f64,
            _ => flops,
        };
        let gflops = work / median.as_secs_f64() / 1e9;
        rows.push(Row {
            problem: text.to_string(),
            batch,
            threads,
            algorithm,
            direction,
            min_ms: min.as_secs_f64() * 1e3,
            median_ms: median.as_secs_f64() * 1e3,
            gflops,
            peak_share: gflops / peak,
            extra_bytes: mem.0,
            workspace_bytes: mem.1,
            max_rel_err: err,
        });
    };
    // Winograd computes 3x3 stride-1 layers itself; on others it would just time im2col.
    let algorithms = chosen
        .iter()
        .filter(|&&a| a != ConvAlgorithm::Winograd || winograd_applies(&g));
    for &algorithm in algorithms {
        let checked = agreement::conv2d_agreement(&case, algorithm);
        ensure_agrees(text, &checked)?;
        let name = plan::forward_kernel(&g, algorithm).name().to_string();
        let forward = || conv2d_forward(&g, &x, &k, None, algorithm);
        let mem = extra_memory(forward, |y| 4 * y.len());
        let timed = time(min_time, || {
            std::hint::black_box(forward());
        });
        push(name.clone(), "fwd", timed, mem, worst(&checked, true));
        if algorithm == ConvAlgorithm::Direct {
            // Only direct computes dx and db on their own; im2col and Winograd make dx and dw
            // in one pass over the same patch or tile blocks.
            let data = || direct_backward_data(&g, &k, &dy);
            let mem = extra_memory(data, |dx| 4 * dx.len());
            let timed = time(min_time, || {
                std::hint::black_box(data());
            });
            push(
                name.clone(),
                "bwd_data",
                timed,
                mem,
                worst_of(&checked, "dx"),
            );
            let bias = || direct_backward_bias(&g, &dy);
            let mem = extra_memory(bias, |db| 4 * db.len());
            let timed = time(min_time, || {
                std::hint::black_box(bias());
            });
            push(
                name.clone(),
                "bwd_bias",
                timed,
                mem,
                worst_of(&checked, "db"),
            );
        }
        // dw and db, as training runs a first layer (whose dx nobody needs).
        let weights = || conv2d_backward(&g, &x, &k, &dy, algorithm, false);
        let mem = extra_memory(weights, grads_bytes);
        let timed = time(min_time, || {
            std::hint::black_box(weights());
        });
        let err = worst_of(&checked, "dw").max(worst_of(&checked, "db"));
        push(name.clone(), "bwd_weights", timed, mem, err);
        let backward = || conv2d_backward(&g, &x, &k, &dy, algorithm, true);
        let mem = extra_memory(backward, grads_bytes);
        let timed = time(min_time, || {
            std::hint::black_box(backward());
        });
        push(name, "bwd", timed, mem, worst(&checked, false));

        // The fused op training runs for Conv2D(relu) + MaxPooling2D(2), where it fits.
        let Some(pool) = pool else { continue };
        let Ok(small_pool) = Pool2dGeometry::new(&small.y_shape(), (2, 2), (2, 2), Padding::Valid)
        else {
            continue;
        };
        let Some(fused) = plan::conv_relu_pool(&g, &pool, algorithm, true) else {
            continue;
        };
        let pdy = agreement::random_tensor(&small_pool.y_shape(), 20);
        let pooled_case = ConvCase { dy: &pdy, ..case };
        let checked =
            agreement::conv2d_relu_max_pool2d_agreement(&pooled_case, &small_pool, algorithm);
        ensure_agrees(text, &checked)?;
        let pool_dy = Tensor::new(&pool.y_shape(), values(pool.y_shape().iter().product(), 5))?;
        let forward =
            || conv2d_relu_max_pool2d_forward(&g, &pool, &x, &k, Some(&bias), algorithm, true);
        let out = forward();
        let backward = || {
            conv2d_relu_max_pool2d_backward(
                &g,
                &pool,
                &x,
                &k,
                &out.y,
                &out.argmax,
                &pool_dy,
                algorithm,
                true,
            )
        };
        let name = match fused {
            plan::ConvReluPool::Chunks(kernels) => {
                format!("{}+relu+pool, chunks", kernels.name())
            }
            plan::ConvReluPool::WinogradTiles => "winograd+relu+pool, tiles".to_string(),
        };
        let mem = extra_memory(forward, |o| 4 * (o.y.len() + o.argmax.len()));
        let timed = time(min_time, || {
            std::hint::black_box(forward());
        });
        push(name.clone(), "fwd", timed, mem, worst(&checked, true));
        let mem = extra_memory(backward, grads_bytes);
        let timed = time(min_time, || {
            std::hint::black_box(backward());
        });
        push(name, "bwd", timed, mem, worst(&checked, false));
    }
    Ok(rows)
}

/// Refuses to time a kernel that disagrees with the reference.
fn ensure_agrees(shape: &str, checks: &[CheckResult]) -> Result<()> {
    if let Some(bad) = checks.iter().find(|r| !r.passed) {
        anyhow::bail!(
            "{shape}: {} disagrees with the f64 reference (max abs error {:.3e}, worst {:.3} of the rounding bound {:?}): not timed",
            bad.check,
            bad.max_abs_err,
            bad.worst_ratio.unwrap_or(f64::NAN),
            bad.limit
        );
    }
    Ok(())
}

/// The Conv2D layers of a model as `--shape` problems (`HxWxC:KHxKW:COUT:STRIDE:PAD`).
fn model_conv_shapes(path: &Path) -> Result<Vec<String>> {
    let model = model_or_chapter(Some(path), 42, ConvArg::Auto)?;
    let mut shapes = Vec::new();
    for entry in model.layers() {
        let Layer::Conv2D(conv) = &entry.layer else {
            continue;
        };
        let &[h, w, c] = entry.input_shape.as_slice() else {
            continue;
        };
        let (kh, kw) = (conv.kernel_size.0, conv.kernel_size.1);
        anyhow::ensure!(
            conv.strides.0 == conv.strides.1,
            "--model {}: layer {} has strides ({}, {}); bench conv times one stride for both axes",
            path.display(),
            entry.name,
            conv.strides.0,
            conv.strides.1
        );
        let pad = match conv.padding {
            Padding::Same => "same",
            Padding::Valid => "valid",
        };
        shapes.push(format!(
            "{h}x{w}x{c}:{kh}x{kw}:{}:{}:{pad}",
            conv.filters, conv.strides.0
        ));
    }
    anyhow::ensure!(
        !shapes.is_empty(),
        "--model {}: the model has no Conv2D layer",
        path.display()
    );
    Ok(shapes)
}
