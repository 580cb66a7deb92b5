//! `explain pool`: max or average pooling, window by window, with each window's winner.

use std::process::ExitCode;

use anyhow::Result;
use convlab_cli::draw::{grid_figure, Panel};
use convlab_tensor::{pool2d, reference, Padding, Pool2dGeometry, Tensor};

use super::super::{check_output, write_output};
use super::conv::agreement_line;
use super::{chapter_map, grid_text, matrix, num, positions, print_grid, PoolArgs, PoolKind};

pub(super) fn pool(args: PoolArgs) -> Result<ExitCode> {
    if let Some(path) = &args.svg {
        check_output("--svg", path)?;
    }
    let x = matrix(
        "--input",
        &args.input,
        args.seed,
        (4, 4),
        false,
        chapter_map(),
    )?;
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
    let positions = positions(&args.at, g.ho, g.wo, "pooled map")?;
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
