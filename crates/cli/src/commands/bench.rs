//! `convlab bench conv|train|predict`: how fast the kernels, a training epoch and inference run
//! here.
//!
//! - `conv`: im2col, direct and Winograd (on 3x3 stride-1 layers), forward and backward, for the
//!   chapter's two layers (or any `--shape`), as median milliseconds and GFLOP/s, the fastest
//!   marked. Direct and Winograd are checked to agree with im2col before anything is timed.
//! - `train`: one epoch of the chapter's setup on the real data (48,000 training images at batch
//!   32, then the 12,000 validation images): seconds, images per second, and the GFLOP/s those
//!   FLOP counts imply. `--model FILE` times another network (and `--dataset` its data).
//! - `predict`: images per second of `predict` over the 10,000 test images (batch 256).
//!
//! FLOP are counted as 2 per multiply-add of the direct algorithm (Conv2D and Dense layers
//! only), whatever algorithm runs: a training step is the forward pass, the weight gradients and
//! the input gradients of every layer but the first (see `model_flop`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use convlab_nn::{Adam, Dataset, FitOptions, Layer, Loss, Optimizer, Sequential};
use convlab_tensor::conv2d::{conv2d_backward, conv2d_forward, winograd_applies};
use convlab_tensor::conv_relu_pool::{
    conv2d_relu_max_pool2d_backward, conv2d_relu_max_pool2d_forward,
};
use convlab_tensor::plan;
use convlab_tensor::reference::agreement::{self, ConvCase};
use convlab_tensor::reference::report::CheckResult;
use convlab_tensor::{Conv2dGeometry, ConvAlgorithm, Padding, Pool2dGeometry, Tensor};

use super::ConvArg;
use crate::data::{self, DataArgs};
use crate::memory;
use crate::model_arg::model_or_chapter;

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// im2col, direct and Winograd convolution, forward and backward.
    Conv(ConvBenchArgs),
    /// Seconds per training epoch (the chapter's model on Fashion-MNIST, or --model on --dataset).
    Train(TrainBenchArgs),
    /// Inference: images per second of `predict` on the 10,000 test images.
    Predict(PredictBenchArgs),
}

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct PredictBenchArgs {
    #[arg(long, default_value_t = 256)]
    batch_size: usize,
    /// Times to predict the whole test split; the median is reported.
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    #[arg(long, value_enum, default_value_t = ConvArg::Auto)]
    conv: ConvArg,
    /// The network: a model file or a checkpoint (default: the chapter's).
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct ConvBenchArgs {
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// A layer as HxWxC:KxK:COUT:STRIDE:PAD, e.g. 14x14x32:3x3:64:1:same (repeatable; default:
    /// the chapter's two conv layers).
    #[arg(long)]
    shape: Vec<String>,
    /// Benchmark the Conv2D layers of this model (a model file or a checkpoint) instead.
    #[arg(long, value_name = "FILE", conflicts_with = "shape")]
    model: Option<PathBuf>,
    /// Minimum time spent measuring each case, in seconds.
    #[arg(long, default_value_t = 1.0)]
    seconds: f64,
}

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct TrainBenchArgs {
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    #[arg(long, value_enum, default_value_t = ConvArg::Auto)]
    conv: ConvArg,
    /// The network: a model file (TOML or Keras JSON) or a checkpoint's architecture (default:
    /// the chapter's). Its weights are drawn from seed 42.
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    #[command(flatten)]
    data: DataArgs,
}

pub fn run(cmd: BenchCommand) -> Result<ExitCode> {
    match cmd {
        BenchCommand::Conv(args) => conv(args),
        BenchCommand::Train(args) => train(args),
        BenchCommand::Predict(args) => predict(args),
    }
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

/// Median wall time of `f` over at least 5 runs and `min_time` (after one warm-up run).
fn median_time(min_time: Duration, mut f: impl FnMut()) -> Duration {
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
    times[times.len() / 2]
}

fn values(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = convlab_nn::Rng::new(seed);
    (0..len).map(|_| rng.uniform_range(-1.0, 1.0)).collect()
}

fn conv(args: ConvBenchArgs) -> Result<ExitCode> {
    anyhow::ensure!(args.batch >= 1, "--batch must be at least 1");
    anyhow::ensure!(
        args.seconds.is_finite() && (0.0..=3600.0).contains(&args.seconds),
        "--seconds must be between 0 and 3600, got {}",
        args.seconds
    );
    let shapes = match &args.model {
        Some(path) => model_conv_shapes(path)?,
        None if args.shape.is_empty() => vec![
            "28x28x1:3x3:32:1:same".to_string(),
            "14x14x32:3x3:64:1:same".to_string(),
        ],
        None => args.shape.clone(),
    };
    outln!(
        "batch {}, {} thread(s), vector kernels {}; median of >= {:.1}s per case",
        args.batch,
        rayon::current_num_threads(),
        convlab_tensor::isa::describe(),
        args.seconds
    )?;
    outln!(
        "{:<26} {:<32} {:>12} {:>9} {:>12} {:>9}",
        "layer",
        "algorithm",
        "forward ms",
        "GFLOP/s",
        "backward ms",
        "GFLOP/s"
    )?;
    let min_time = Duration::from_secs_f64(args.seconds.max(0.0));
    for text in &shapes {
        let LayerShape {
            input: [h, w, c],
            kernel: [kh, kw],
            cout,
            stride,
            padding,
        } = parse_shape(text)?;
        let g = Conv2dGeometry::new(
            &[args.batch, h, w, c],
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
        memory::ensure_fits(
            &format!("--shape {text} at --batch {}", args.batch),
            buffers * 4.0,
        )?;
        let x = Tensor::new(&g.x_shape(), values(args.batch * h * w * c, 1))?;
        let k = Tensor::new(&g.w_shape(), values(kh * kw * c * cout, 2))?;
        let bias = Tensor::new(&[cout], values(cout, 4))?;
        let dy = Tensor::new(&g.y_shape(), values(g.n * g.ho * g.wo * cout, 3))?;
        // Checked before timed: every plan against the f64 reference on two images of this
        // shape, forward and every gradient (a wrong kernel is reported as wrong, never as fast).
        let small = Conv2dGeometry { n: g.n.min(2), ..g };
        let check_case = |seed: u64| {
            let t = |shape: &[usize], s: u64| agreement::random_tensor(shape, seed + s);
            (
                t(&small.x_shape(), 1),
                t(&small.w_shape(), 2),
                t(&[cout], 3),
                t(&small.y_shape(), 4),
            )
        };
        let (cx, cw, cb, cdy) = check_case(10);
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
        let mut algorithms = vec![ConvAlgorithm::Im2col, ConvAlgorithm::Direct];
        // Winograd computes 3x3 stride-1 layers itself; on others it would just time im2col.
        if winograd_applies(&g) {
            algorithms.push(ConvAlgorithm::Winograd);
        }
        for algorithm in algorithms {
            let checked = agreement::conv2d_agreement(&case, algorithm);
            ensure_agrees(text, &checked)?;
            let fwd = median_time(min_time, || {
                std::hint::black_box(conv2d_forward(&g, &x, &k, None, algorithm));
            });
            let bwd = median_time(min_time, || {
                std::hint::black_box(conv2d_backward(&g, &x, &k, &dy, algorithm, true));
            });
            rows.push((
                plan::conv_kernel(&g, algorithm).name().to_string(),
                fwd,
                bwd,
            ));
            // The fused op training runs for Conv2D(relu) + MaxPooling2D(2), where it fits.
            let Some(pool) = pool else { continue };
            let small_pool = Pool2dGeometry::new(&small.y_shape(), (2, 2), (2, 2), Padding::Valid);
            let Ok(small_pool) = small_pool else { continue };
            let Some(fused) = plan::conv_relu_pool(&g, &pool, algorithm) else {
                continue;
            };
            let pdy = agreement::random_tensor(&small_pool.y_shape(), 20);
            let pooled_case = ConvCase { dy: &pdy, ..case };
            ensure_agrees(
                text,
                &agreement::conv2d_relu_max_pool2d_agreement(&pooled_case, &small_pool, algorithm),
            )?;
            let pool_dy = Tensor::new(&pool.y_shape(), values(pool.y_shape().iter().product(), 5))?;
            let out =
                conv2d_relu_max_pool2d_forward(&g, &pool, &x, &k, Some(&bias), algorithm, true);
            let fwd = median_time(min_time, || {
                std::hint::black_box(conv2d_relu_max_pool2d_forward(
                    &g,
                    &pool,
                    &x,
                    &k,
                    Some(&bias),
                    algorithm,
                    true,
                ));
            });
            let bwd = median_time(min_time, || {
                std::hint::black_box(conv2d_relu_max_pool2d_backward(
                    &g,
                    &pool,
                    &x,
                    &k,
                    &out.y,
                    &out.argmax,
                    &pool_dy,
                    algorithm,
                    true,
                ));
            });
            let name = match fused {
                plan::ConvReluPool::Chunks(kernel) => {
                    format!("{}+relu+pool, chunks", kernel.name())
                }
                plan::ConvReluPool::WinogradTiles => "winograd+relu+pool, tiles".to_string(),
            };
            rows.push((name, fwd, bwd));
        }
        let best_fwd = rows.iter().map(|r| r.1).min().unwrap_or_default();
        let best_bwd = rows.iter().map(|r| r.2).min().unwrap_or_default();
        for (name, fwd, bwd) in rows {
            let mark = |t: Duration, best: Duration| if t == best { "*" } else { " " };
            outln!(
                "{:<26} {:<32} {:>11.3}{} {:>9.1} {:>11.3}{} {:>9.1}",
                text,
                name,
                fwd.as_secs_f64() * 1e3,
                mark(fwd, best_fwd),
                flops / fwd.as_secs_f64() / 1e9,
                bwd.as_secs_f64() * 1e3,
                mark(bwd, best_bwd),
                2.0 * flops / bwd.as_secs_f64() / 1e9,
            )?;
        }
    }
    outln!(
        "* = fastest; GFLOP/s counts direct convolution's multiply-adds for every algorithm (Winograd\n\
         does 2.25x fewer); backward = dx, dw and db (2x the forward's FLOP); +relu+pool rows are the\n\
         fused Conv2D(relu) + MaxPooling2D(2) op training runs (its pooling's time included). Every\n\
         row was checked against the f64 reference (forward and every gradient) before it was timed."
    )?;
    Ok(ExitCode::SUCCESS)
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

/// FLOP per image of a model's forward pass and training step, counted as 2 per multiply-add of
/// the direct algorithm in Conv2D and Dense layers. A training step adds each layer's weight
/// gradient (as much work as its forward) and input gradient (the same again, except for the
/// first layer with weights, whose input needs none). The chapter's model: 8.31 MFLOP forward,
/// 24.0 MFLOP a step.
fn model_flop(model: &Sequential) -> (f64, f64) {
    let (mut forward, mut train) = (0.0, 0.0);
    let mut first = true;
    for entry in model.layers() {
        let macs = match &entry.layer {
            Layer::Conv2D(conv) => {
                let out: f64 = entry.output_shape.iter().map(|&d| d as f64).product();
                let cin = *entry.input_shape.last().unwrap_or(&1) as f64;
                out * (conv.kernel_size.0 * conv.kernel_size.1) as f64 * cin
            }
            Layer::Dense(dense) => entry.input_shape[0] as f64 * dense.units as f64,
            _ => continue,
        };
        forward += 2.0 * macs;
        train += 2.0 * macs * if first { 2.0 } else { 3.0 };
        first = false;
    }
    (forward, train)
}

fn train(args: TrainBenchArgs) -> Result<ExitCode> {
    anyhow::ensure!(
        (1..=1000).contains(&args.epochs),
        "--epochs must be between 1 and 1000"
    );
    anyhow::ensure!(args.batch_size >= 1, "--batch-size must be at least 1");
    let mut model = model_or_chapter(args.model.as_deref(), 42, args.conv)?;
    let what = model_label(args.model.as_deref());
    let data = data::load(&args.data, &model, &what)?;
    let (forward_flop, train_flop) = model_flop(&model);
    memory::check_batch(&model, args.batch_size, data.train.len(), true)?;
    model.compile(
        Optimizer::Adam(Adam::default()),
        Loss::SparseCategoricalCrossentropy,
    );
    let opts = FitOptions {
        epochs: args.epochs,
        batch_size: args.batch_size,
        seed: 42,
        ..FitOptions::default()
    };
    outln!(
        "model {} ({} parameters; {:.2} MFLOP forward, {:.2} MFLOP a training step per image) on {}",
        model.name,
        convlab_nn::with_commas(model.count_params()),
        forward_flop / 1e6,
        train_flop / 1e6,
        data.dataset.title()
    )?;
    outln!(
        "training {} epoch(s): {} images + {} validation, batch {}, {} thread(s), vector kernels {}",
        args.epochs,
        data.train.items.len(),
        data.val.items.len(),
        args.batch_size,
        rayon::current_num_threads(),
        convlab_tensor::isa::describe()
    )?;
    let history = model.fit(&data.train, Some(&data.val), &opts, &mut [])?;
    let (n_train, n_val) = (data.train.items.len() as f64, data.val.items.len() as f64);
    for e in &history.epochs {
        let flop = n_train * train_flop + n_val * forward_flop;
        outln!(
            "epoch {}: {:.2} s, {:.0} images/s, {:.1} GFLOP/s - loss {:.4} - val_accuracy {:.4}",
            e.epoch,
            e.seconds,
            (n_train + n_val) / e.seconds,
            flop / e.seconds / 1e9,
            e.loss,
            e.val_accuracy.unwrap_or(f32::NAN)
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// How a bench names its model in errors.
fn model_label(path: Option<&Path>) -> String {
    match path {
        Some(path) => format!("--model {}", path.display()),
        None => "the chapter's model".to_string(),
    }
}

/// `predict` of the chapter's model (untrained: the weights do not change the work) over the test
/// split, timed from the u8 images to the probabilities, batch by batch as `evaluate` runs it.
fn predict(args: PredictBenchArgs) -> Result<ExitCode> {
    anyhow::ensure!(args.batch_size >= 1, "--batch-size must be at least 1");
    anyhow::ensure!(
        (1..=1000).contains(&args.repeats),
        "--repeats must be between 1 and 1000"
    );
    let model = model_or_chapter(args.model.as_deref(), 42, args.conv)?;
    let what = model_label(args.model.as_deref());
    let data = data::load(&args.data, &model, &what)?;
    let (forward_flop, _) = model_flop(&model);
    memory::check_batch(&model, args.batch_size, data.test.len(), false)?;
    let indices: Vec<usize> = (0..data.test.len()).collect();
    outln!(
        "predicting {} test images, batch {}, {} thread(s), vector kernels {}, median of {}",
        indices.len(),
        args.batch_size,
        rayon::current_num_threads(),
        convlab_tensor::isa::describe(),
        args.repeats
    )?;
    let mut times = Vec::new();
    for _ in 0..args.repeats {
        let start = Instant::now();
        // Batch by batch from the u8 images, as `evaluate` runs.
        for batch in indices.chunks(args.batch_size) {
            let probs = model.predict(&data.test.inputs(batch), args.batch_size)?;
            std::hint::black_box(probs);
        }
        times.push(start.elapsed());
    }
    times.sort();
    let median = times[times.len() / 2].as_secs_f64();
    let n = indices.len() as f64;
    outln!(
        "{:.3} s, {:.0} images/s, {:.1} GFLOP/s",
        median,
        n / median,
        n * forward_flop / median / 1e9
    )?;
    Ok(ExitCode::SUCCESS)
}
