//! `convlab train --tensorboard DIR`: TensorFlow event files that the real TensorBoard reads
//! (`tensorboard --logdir DIR`), as Keras's `TensorBoard(log_dir)` callback writes them.
//!
//! An event file is a sequence of TFRecords, each framed as
//! ```text
//! u64 length (little-endian) | u32 masked CRC-32C of those 8 bytes | data | u32 masked CRC-32C of data
//! ```
//! where `masked(crc) = ((crc >> 15) | (crc << 17)) + 0xa282ead8` (TensorFlow's
//! `tensorflow/core/lib/hash/crc32c.h`, so that a CRC of data holding CRCs is not degenerate).
//! Each record's data is an `Event` protocol buffer (`tensorflow/core/util/event.proto`):
//! `wall_time` (1, double), `step` (2, int64), then `file_version` (3, "brain.Event:2") in the
//! first event or a `Summary` (5) in the others. A `Summary` (`summary.proto`) holds values:
//! `tag` (1) and one of `simple_value` (2, float: a scalar), `image` (4: height 1, width 2,
//! colorspace 3, PNG bytes 4) or `histo` (5: min 1, max 2, num 3, sum 4, sum_squares 5,
//! packed `bucket_limit` 6 and `bucket` 7).
//!
//! What a run writes, one step per epoch (Keras numbers epochs from 0 in TensorBoard; so does
//! this): the scalars `loss`, `accuracy`, `val_loss`, `val_accuracy` and `learning_rate`; a
//! histogram of every weight tensor (tag = the weight's name); and the first Conv2D layer's
//! filters of input channel 0 as an image. Each epoch's records are appended in one write and
//! flushed to disk: TensorBoard reads a file while it grows, and a reader that meets a
//! half-written last record (a crash mid-write) stops there and keeps what came before.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use convlab_nn::callbacks::{Callback, Control};
use convlab_nn::history::EpochLogs;
use convlab_nn::proto::Message;
use convlab_nn::{Layer, Sequential, TrainError};

use convlab_cli::draw::GridOpts;

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), bit by bit through a table of 256.
fn crc32c(data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut table = [0u32; 256];
        for (i, entry) in table.iter_mut().enumerate() {
            let mut crc = i as u32;
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0x82F6_3B78
                } else {
                    crc >> 1
                };
            }
            *entry = crc;
        }
        table
    });
    let mut crc = !0u32;
    for &b in data {
        crc = table[((crc ^ b as u32) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

fn masked_crc(data: &[u8]) -> u32 {
    let crc = crc32c(data);
    (crc.rotate_right(15)).wrapping_add(0xa282_ead8)
}

/// One TFRecord: the framing around `data`.
fn record(data: &[u8]) -> Vec<u8> {
    let length = (data.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(data.len() + 16);
    out.extend_from_slice(&length);
    out.extend_from_slice(&masked_crc(&length).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc(data).to_le_bytes());
    out
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// An `Event` with a `Summary` of `values` at `step`.
fn summary_event(step: usize, values: &[Message]) -> Vec<u8> {
    let mut summary = Message::new();
    for v in values {
        summary.message(1, v);
    }
    let mut event = Message::new();
    event
        .double(1, now())
        .int(2, step as i64)
        .message(5, &summary);
    event.into_bytes()
}

fn scalar(tag: &str, value: f32) -> Message {
    let mut v = Message::new();
    v.string(1, tag).float(2, value);
    v
}

/// A `HistogramProto` of `values` in 30 equal buckets between their min and max (TensorBoard
/// draws bucket i as the interval ending at `bucket_limit[i]`, starting at the previous limit).
fn histogram(tag: &str, values: &[f32]) -> Message {
    let finite: Vec<f64> = values
        .iter()
        .filter(|v| v.is_finite())
        .map(|&v| v as f64)
        .collect();
    let (lo, hi) = finite
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let (lo, hi) = if finite.is_empty() {
        (0.0, 0.0)
    } else {
        (lo, hi)
    };
    const BUCKETS: usize = 30;
    let width = (hi - lo) / BUCKETS as f64;
    let mut counts = vec![0.0f64; BUCKETS];
    for &v in &finite {
        let i = if width > 0.0 {
            (((v - lo) / width) as usize).min(BUCKETS - 1)
        } else {
            0
        };
        counts[i] += 1.0;
    }
    let limits: Vec<f64> = (1..=BUCKETS)
        .map(|i| {
            if width > 0.0 {
                lo + width * i as f64
            } else {
                hi
            }
        })
        .collect();
    let mut h = Message::new();
    h.double(1, lo)
        .double(2, hi)
        .double(3, finite.len() as f64)
        .double(4, finite.iter().sum())
        .double(5, finite.iter().map(|v| v * v).sum())
        .doubles(6, &limits)
        .doubles(7, &counts);
    let mut v = Message::new();
    v.string(1, tag).message(5, &h);
    v
}

fn image(tag: &str, png: &[u8], height: usize, width: usize) -> Message {
    let mut img = Message::new();
    img.int(1, height as i64)
        .int(2, width as i64)
        .int(3, 3)
        .bytes(4, png);
    let mut v = Message::new();
    v.string(1, tag).message(4, &img);
    v
}

/// The callback: opens `DIR/events.out.tfevents.<seconds>.convlab` at the first epoch's end
/// (creating DIR, whose parent must exist), appends each epoch's events.
pub struct TensorBoard {
    dir: PathBuf,
    learning_rate: f32,
    file: Option<(PathBuf, File)>,
}

impl TensorBoard {
    /// Refuses a DIR that is a file or whose parent does not exist, before any training.
    pub fn new(dir: &Path, learning_rate: f32) -> anyhow::Result<TensorBoard> {
        if dir.exists() {
            anyhow::ensure!(
                dir.is_dir(),
                "--tensorboard {}: this is not a directory",
                dir.display()
            );
        } else {
            let parent = match dir.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            anyhow::ensure!(
                parent.is_dir(),
                "--tensorboard {}: the directory {} does not exist",
                dir.display(),
                parent.display()
            );
        }
        Ok(TensorBoard {
            dir: dir.to_path_buf(),
            learning_rate,
            file: None,
        })
    }

    /// The event file, once the first epoch has written it.
    pub fn path(&self) -> Option<&Path> {
        self.file.as_ref().map(|(p, _)| p.as_path())
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if self.file.is_none() {
            if !self.dir.exists() {
                std::fs::create_dir(&self.dir)?;
            }
            let seconds = now() as u64;
            // A new file for every run, never one that exists (a second run in the same
            // second takes the next free number; any error but "exists" ends the search).
            let mut opened = None;
            for i in 0..1000 {
                let suffix = if i == 0 {
                    String::new()
                } else {
                    format!(".{i}")
                };
                let path = self
                    .dir
                    .join(format!("events.out.tfevents.{seconds}.convlab{suffix}"));
                match OpenOptions::new().append(true).create_new(true).open(&path) {
                    Ok(file) => {
                        opened = Some((path, file));
                        break;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(e),
                }
            }
            let (path, file) = opened.ok_or_else(|| {
                std::io::Error::other("1,000 event files of this second already exist")
            })?;
            self.file = Some((path, file));
            let mut first = Message::new();
            first.double(1, now()).int(2, 0).string(3, "brain.Event:2");
            let header = record(&first.into_bytes());
            self.file
                .as_mut()
                .expect("just opened")
                .1
                .write_all(&header)?;
        }
        let (_, file) = self.file.as_mut().expect("opened above");
        file.write_all(bytes)?;
        file.sync_data()
    }
}

impl Callback for TensorBoard {
    fn on_epoch_end(
        &mut self,
        logs: &EpochLogs,
        model: &Sequential,
    ) -> Result<Control, TrainError> {
        // TensorBoard's step of epoch k (1-based in convlab's logs) is k - 1, as Keras's.
        let step = logs.epoch.saturating_sub(1);
        let mut values = vec![scalar("loss", logs.loss)];
        let named = [
            ("accuracy", logs.accuracy),
            ("val_loss", logs.val_loss),
            ("val_accuracy", logs.val_accuracy),
        ];
        for (tag, value) in named {
            if let Some(v) = value {
                values.push(scalar(tag, v));
            }
        }
        values.push(scalar("learning_rate", self.learning_rate));
        for (name, w) in model.weight_names().iter().zip(model.weights()) {
            values.push(histogram(name, w.data()));
        }
        if let Some(filters) = first_filters(model) {
            values.push(filters);
        }
        let bytes = record(&summary_event(step, &values));
        self.write(&bytes).map_err(|e| {
            TrainError::Resume(format!(
                "--tensorboard {}: writing the event file: {e}",
                self.dir.display()
            ))
        })?;
        Ok(Control::Continue)
    }
}

/// The first Conv2D layer's filters of input channel 0, 16 a row, as `inspect weights` draws
/// them.
fn first_filters(model: &Sequential) -> Option<Message> {
    let entry = model
        .layers()
        .iter()
        .find(|e| matches!(e.layer, Layer::Conv2D(_)))?;
    let kernel = entry.weight("kernel")?;
    let &[kh, kw, cin, cout] = kernel.shape() else {
        return None;
    };
    let grid = crate::commands::channel_grid(
        kernel.data(),
        kh,
        kw,
        cin * cout,
        0,
        cout,
        16,
        &GridOpts::filters(),
    )
    .ok()?;
    let png = grid.to_png().ok()?;
    Some(image(
        &format!("{}/filters", entry.name),
        &png,
        grid.height(),
        grid.width(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The check value of CRC-32C (RFC 3720, B.4): "123456789" -> 0xE3069283; and 32 zero
    /// bytes -> 0x8A9136AA.
    #[test]
    fn crc32c_matches_the_published_check_values() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
    }

    #[test]
    fn records_are_framed_with_masked_crcs() {
        let r = record(b"abc");
        assert_eq!(&r[..8], &3u64.to_le_bytes());
        assert_eq!(&r[8..12], &masked_crc(&3u64.to_le_bytes()).to_le_bytes());
        assert_eq!(&r[12..15], b"abc");
        assert_eq!(&r[15..19], &masked_crc(b"abc").to_le_bytes());
        // The mask, worked by hand: crc32c("") = 0, so its mask is the constant alone; and
        // 0xE3069283 rotated right by 15 is 0x2507C60D, plus 0xa282ead8 = 0xC78AB0E5.
        assert_eq!(masked_crc(b""), 0xa282_ead8);
        assert_eq!(masked_crc(b"123456789"), 0xC78A_B0E5);
    }

    #[test]
    fn histograms_count_every_finite_value_once() {
        let values: Vec<f32> = (0..100)
            .map(|i| i as f32 / 10.0)
            .chain([f32::NAN])
            .collect();
        let bytes = histogram("w", &values).into_bytes();
        // The nested HistogramProto is the last field; its num (field 3) is 100.
        let at = bytes
            .windows(9)
            .position(|w| w[0] == 0x19 && w[1..] == 100f64.to_le_bytes())
            .is_some();
        assert!(at, "num = 100 not found");
    }
}
