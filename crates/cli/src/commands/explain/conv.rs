//! `explain conv1d`, `conv` and `im2col`: one-channel convolutions, window by window, and as
//! one matrix product.

use std::process::ExitCode;

use anyhow::Result;
use convlab_cli::draw::{grid_figure, Panel};
use convlab_tensor::conv2d::{conv2d_forward, patch_matrix};
use convlab_tensor::gemm::{gemm, MatMut, MatRef};
use convlab_tensor::{plan, reference, Conv2dGeometry, ConvAlgorithm, Padding, Tensor};

use super::super::{check_output, write_output};
use super::{
    chapter_kernel, grid_text, matrix, num, positions, print_grid, ramp, Conv1dArgs, ConvArgs,
    Matrix,
};

/// A one-channel convolution problem, checked.
pub(super) struct ConvProblem {
    pub(super) x: Matrix,
    pub(super) k: Matrix,
    pub(super) g: Conv2dGeometry,
    pub(super) padding: Padding,
}

impl ConvProblem {
    pub(super) fn new(
        x: Matrix,
        k: Matrix,
        stride: usize,
        padding: Padding,
    ) -> Result<ConvProblem> {
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
    pub(super) fn outputs(&self) -> (Vec<f64>, Vec<f32>, &'static str) {
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
            plan::forward_kernel(&self.g, ConvAlgorithm::Auto).name(),
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

pub(super) fn agreement_line(y_ref: &[f64], y_fast: &[f32], fast: &str) -> Result<()> {
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

pub(super) fn conv1d(args: Conv1dArgs) -> Result<ExitCode> {
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

pub(super) fn conv(args: ConvArgs, as_gemm: bool) -> Result<ExitCode> {
    if let Some(path) = &args.svg {
        check_output("--svg", path)?;
    }
    let x = matrix("--input", &args.input, args.seed, (4, 4), false, ramp(4, 4))?;
    let k = matrix(
        "--kernel",
        &args.kernel,
        args.seed,
        (3, 3),
        true,
        chapter_kernel(),
    )?;
    let p = ConvProblem::new(x, k, args.stride, args.padding.into())?;
    let (y_ref, y_fast, fast) = p.outputs();
    let fast = format!("the fast path ({fast}, what training runs here)");
    let g = p.g;
    let positions = positions(&args.at, g.ho, g.wo, "feature map")?;
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
