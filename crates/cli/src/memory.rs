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

/// Bytes of memory this process can still have: the least of the machine's `MemAvailable`, its
/// cgroup's room (`memory.max - memory.current`, cgroup v2) and its address-space limit
/// (`ulimit -v`) less what it has mapped.
pub fn available_bytes() -> f64 {
    let machine = proc_field("/proc/meminfo", "MemAvailable:").unwrap_or(FALLBACK_AVAILABLE);
    let read =
        |path: &str| -> Option<f64> { std::fs::read_to_string(path).ok()?.trim().parse().ok() };
    let cgroup = match (
        read("/sys/fs/cgroup/memory.max"),
        read("/sys/fs/cgroup/memory.current"),
    ) {
        (Some(max), Some(current)) => max - current,
        _ => f64::INFINITY,
    };
    machine.min(cgroup).min(address_space_left())
}

/// A `Key:   123 kB` line of a /proc file, in bytes.
fn proc_field(path: &str, key: &str) -> Option<f64> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024.0)
}

/// RLIMIT_AS less the process's mapped size (`VmSize`), or infinity without a limit.
#[cfg(target_os = "linux")]
fn address_space_left() -> f64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit struct, which `limit` is.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut limit) } == 0;
    if !ok || limit.rlim_cur == libc::RLIM_INFINITY {
        return f64::INFINITY;
    }
    let mapped = proc_field("/proc/self/status", "VmSize:").unwrap_or(0.0);
    limit.rlim_cur as f64 - mapped
}

#[cfg(not(target_os = "linux"))]
fn address_space_left() -> f64 {
    f64::INFINITY
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

/// The largest patch matrix of one image among the model's Conv2D layers (im2col's workspace:
/// one row of KH*KW*C values per output pixel), in values. Each thread builds at least one
/// image's at a time, however the batch is blocked.
fn largest_patch_matrix(model: &Sequential) -> f64 {
    // A layer's multiply-adds are its output pixels x filters x (KH*KW*C): one patch row of
    // KH*KW*C values per output pixel is the multiply-adds over the filters.
    model
        .layers()
        .iter()
        .filter_map(|l| match &l.layer {
            convlab_nn::Layer::Conv2D(conv) => Some(l.multiply_adds() / conv.filters as f64),
            _ => None,
        })
        .fold(0.0, f64::max)
}

/// Bytes of the weights, plus the patch matrices all threads may build at once.
fn fixed_bytes(model: &Sequential, copies_of_weights: f64) -> f64 {
    let weights = model.count_params() as f64;
    let threads = rayon::current_num_threads() as f64;
    4.0 * (weights * copies_of_weights + threads * largest_patch_matrix(model))
}

/// What a training step of `batch` items needs: each activation is kept for the backward pass
/// beside its gradient, a mask or argmax and a workspace, about four f32 values for each; the
/// weights four times (themselves, their gradients and Adam's two moments); and im2col's patch
/// matrices.
pub fn training_step_bytes(model: &Sequential, batch: usize) -> f64 {
    batch as f64 * values_per_item(model) * 4.0 * 4.0 + fixed_bytes(model, 4.0)
}

/// What inference on `batch` items needs: each activation and the workspace that makes it, the
/// weights, and im2col's patch matrices.
pub fn inference_bytes(model: &Sequential, batch: usize) -> f64 {
    batch as f64 * values_per_item(model) * 4.0 * 2.0 + fixed_bytes(model, 1.0)
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
