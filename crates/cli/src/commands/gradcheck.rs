//! `convlab gradcheck [--op NAME|all] [--seed S]`: the numerical gradient checks of every op
//! and of the chapter's whole network, as a table. Exit code 1 if any check fails.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use convlab_autograd::checks;

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct GradcheckArgs {
    /// Which checks: "all", or a name (or the start of one: "conv2d" runs every conv check).
    #[arg(long, default_value = "all")]
    op: String,
    /// Seed of the inputs and the random projection.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

pub fn run(args: GradcheckArgs) -> Result<ExitCode> {
    anyhow::ensure!(
        !args.op.is_empty(),
        "--op is empty: give all or a check's name"
    );
    let all = checks::all();
    let chosen: Vec<_> = all
        .iter()
        .filter(|c| args.op == "all" || c.name.starts_with(&args.op))
        .collect();
    if chosen.is_empty() {
        let names: Vec<&str> = all.iter().map(|c| c.name.as_str()).collect();
        anyhow::bail!(
            "--op {:?} matches no check; the checks are: all, {}",
            args.op,
            names.join(", ")
        );
    }
    outln!(
        "{:<34} {:<36} {:>13} {:>13} {:>9}  result",
        "op",
        "shapes",
        "max abs err",
        "max rel err",
        "norm err"
    )?;
    let mut failed = 0;
    for check in chosen {
        let report = check.run(args.seed);
        let norm = report
            .inputs
            .iter()
            .map(|r| r.norm_rel_error)
            .fold(0.0, f64::max);
        let passed = report.passed();
        failed += usize::from(!passed);
        outln!(
            "{:<34} {:<36} {:>13.3e} {:>13.3e} {:>9.2e}  {}",
            check.name,
            check.shapes,
            report.max_abs_error(),
            report.max_rel_error(),
            norm,
            if passed { "pass" } else { "FAIL" }
        )?;
        if !passed {
            out!("{report}")?;
        }
    }
    if failed > 0 {
        outln!("{failed} check(s) failed")?;
        return Ok(ExitCode::from(1));
    }
    outln!("all checks passed")?;
    Ok(ExitCode::SUCCESS)
}
