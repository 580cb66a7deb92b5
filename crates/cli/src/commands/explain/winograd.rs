//! `explain winograd`: one 4x4 tile of F(2x2, 3x3) through the forward kernel's own transforms.

use std::process::ExitCode;

use anyhow::Result;
use convlab_tensor::conv2d::{conv2d_forward, winograd_one_tile};
use convlab_tensor::{ConvAlgorithm, Padding, Tensor};

use super::conv::{agreement_line, ConvProblem};
use super::{chapter_kernel, chapter_map, grid_text, matrix, num, print_grid, WinogradArgs};

pub(super) fn winograd(args: WinogradArgs) -> Result<ExitCode> {
    let d = matrix(
        "--input",
        &args.input,
        args.seed,
        (4, 4),
        false,
        chapter_map(),
    )?;
    let k = matrix(
        "--kernel",
        &args.kernel,
        args.seed,
        (3, 3),
        true,
        chapter_kernel(),
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
