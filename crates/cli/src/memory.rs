//! Sizes checked before anything is allocated.
//!
//! A batch or a benchmark shape typed with a few digits too many would otherwise reach the
//! allocator, which aborts the process (SIGABRT, exit 134) when it cannot deliver. Each command
//! estimates what its largest step needs from the shapes alone and compares it with the memory
//! the kernel says is available, so the error can say what is too large and by how much.

use anyhow::Result;
use convlab_nn::Sequential;

/// Used where `/proc/meminfo` cannot be read (not Linux).
const FALLBACK_AVAILABLE: f64 = 8.0 * GB;

const GB: f64 = 1e9;

/// Bytes of memory available to this process now: `MemAvailable` of `/proc/meminfo`.
pub fn available_bytes() -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
            let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kb * 1024.0)
        })
        .unwrap_or(FALLBACK_AVAILABLE)
}

/// Refuses `what` if it needs more than the memory available. `bytes` is an estimate in f64, so
/// that absurd sizes cannot overflow on the way here.
pub fn ensure_fits(what: &str, bytes: f64) -> Result<()> {
    let available = available_bytes();
    anyhow::ensure!(
        bytes <= available,
        "{what} needs about {:.1} GB of memory, more than the {:.1} GB available here; make it smaller",
        bytes / GB,
        available / GB
    );
    Ok(())
}

/// Values one item holds through the model: its input and every layer's output.
fn values_per_item(model: &Sequential) -> f64 {
    let size = |shape: &[usize]| shape.iter().map(|&d| d as f64).product::<f64>();
    size(model.input_shape())
        + model
            .layers()
            .iter()
            .map(|l| size(&l.output_shape))
            .sum::<f64>()
}

/// What a training step of `batch` items needs: each activation is kept for the backward pass
/// beside its gradient, a mask or argmax and a workspace, about four f32 values for each.
pub fn training_step_bytes(model: &Sequential, batch: usize) -> f64 {
    batch as f64 * values_per_item(model) * 4.0 * 4.0
}

/// What inference on `batch` items needs: each activation and the workspace that makes it.
pub fn inference_bytes(model: &Sequential, batch: usize) -> f64 {
    batch as f64 * values_per_item(model) * 4.0 * 2.0
}

/// Refuses `--batch-size` when the largest batch it makes (no more than `items`) would not fit,
/// for training (`training`) or inference.
pub fn check_batch(
    model: &Sequential,
    batch_size: usize,
    items: usize,
    training: bool,
) -> Result<()> {
    let batch = batch_size.min(items);
    let bytes = if training {
        training_step_bytes(model, batch)
    } else {
        inference_bytes(model, batch)
    };
    ensure_fits(
        &format!("--batch-size {batch_size} (batches of {batch} images)"),
        bytes,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use convlab_nn::{chapter_model, ConvAlgorithm};

    #[test]
    fn the_chapter_at_batch_32_fits_and_at_a_billion_does_not() {
        let model = chapter_model(1, ConvAlgorithm::Auto);
        // 784 + 25,088 + 6,272 + 12,544 + 3,136 + 3,136 + 100 + 100 + 10 values an image.
        assert_eq!(values_per_item(&model), 51_170.0);
        assert!(ensure_fits("batch 32", training_step_bytes(&model, 32)).is_ok());
        let err = ensure_fits(
            "--batch-size 1000000000",
            training_step_bytes(&model, 1 << 30),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("--batch-size 1000000000 needs about"), "{err}");
        assert!(err.contains("GB available here"), "{err}");
    }
}
