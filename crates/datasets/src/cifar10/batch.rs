//! CIFAR-10's binary batches, read without trusting them, and turned from planes into NHWC.
//!
//! ```text
//! a batch file: `records` records, nothing before, between or after them
//! one record:   1 byte      the label, 0..=9
//!               1,024 bytes the red plane, row-major 32x32 (row 0 columns 0..31, row 1, ...)
//!               1,024 bytes green, then 1,024 bytes blue
//! ```
//!
//! (Krizhevsky, "Learning Multiple Layers of Features from Tiny Images", 2009, and the dataset's
//! page, <https://www.cs.toronto.edu/~kriz/cifar.html>.) The file says nothing about its own size,
//! so its length is checked against the layout before anything is allocated: with
//! verification, exactly `records` records (30,730,000 bytes for the real files); without it, any
//! whole, non-zero number of records. The output is then allocated once, at what the file's
//! length holds, and filled one record at a time through a 3,073-byte buffer; a file that
//! changes while it is read is caught at its end.
//!
//! Pixel `p` of channel `k` sits at `1 + k * plane + p` in a record (`plane = rows * cols`) and
//! goes to `p * channels + k` of the image: the channels of one pixel end up side by side.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::{BatchProblem, DatasetError};
use crate::images::Images;

/// The largest batch file this reader accepts: 4 GiB, far above the 30.7 MB of a real one.
pub const MAX_BATCH_BYTES: u64 = 1 << 32;

/// The shape of a batch file's records. `BatchLayout::CIFAR10` is the real one; tests use
/// smaller ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLayout {
    /// Records in one file, when verifying.
    pub records: usize,
    pub rows: usize,
    pub cols: usize,
    pub channels: usize,
    /// Labels must be below this.
    pub classes: u8,
}

impl BatchLayout {
    /// 10,000 records of 32x32 RGB, 10 classes.
    pub const CIFAR10: BatchLayout = BatchLayout {
        records: 10_000,
        rows: 32,
        cols: 32,
        channels: 3,
        classes: 10,
    };

    /// Bytes of one channel of one image.
    pub fn plane(&self) -> usize {
        self.rows * self.cols
    }

    /// Bytes of one record: the label and the pixels (3,073 for CIFAR-10).
    pub fn record_len(&self) -> usize {
        1 + self.plane() * self.channels
    }

    /// Bytes of a whole file (30,730,000 for CIFAR-10).
    pub fn file_len(&self) -> u64 {
        self.records as u64 * self.record_len() as u64
    }
}

/// Reads the batch files at `paths`, in order, as one set of images and labels. With `exact`,
/// each must hold exactly `layout.records` records.
pub fn read_batches(
    paths: &[PathBuf],
    layout: &BatchLayout,
    exact: bool,
) -> Result<(Images, Vec<u8>), DatasetError> {
    let record_len = layout.record_len() as u64;
    // Every file's length is checked first, so the one allocation below is what they hold.
    let mut lens = Vec::with_capacity(paths.len());
    for path in paths {
        let len = regular_file_len(path)?;
        records_in(&path.display().to_string(), len, layout, exact)?;
        lens.push(len);
    }
    let records: u64 = lens.iter().map(|len| len / record_len).sum();
    let mut out = Decoded::with_capacity(records, layout);
    for (path, &len) in paths.iter().zip(&lens) {
        let file = File::open(path).map_err(|e| DatasetError::io(path, e))?;
        let reader = BufReader::with_capacity(1 << 18, file);
        decode(&Source::File(path), len, reader, layout, exact, &mut out)?;
    }
    out.into_images(layout)
}

/// One batch file.
pub fn read_batch(
    path: impl AsRef<Path>,
    layout: &BatchLayout,
    exact: bool,
) -> Result<(Images, Vec<u8>), DatasetError> {
    read_batches(&[path.as_ref().to_path_buf()], layout, exact)
}

/// A batch held in memory; `name` stands for it in errors.
pub fn read_batch_bytes(
    name: &str,
    bytes: &[u8],
    layout: &BatchLayout,
    exact: bool,
) -> Result<(Images, Vec<u8>), DatasetError> {
    let len = bytes.len() as u64;
    let records = records_in(name, len, layout, exact)?;
    let mut out = Decoded::with_capacity(records, layout);
    decode(&Source::Named(name), len, bytes, layout, exact, &mut out)?;
    out.into_images(layout)
}

/// Checks a batch file's length and every label without keeping the pixels (what the
/// downloader does to each file it unpacks); `name` stands for it in errors.
pub fn check_batch(path: &Path, name: &str, layout: &BatchLayout) -> Result<u64, DatasetError> {
    let len = regular_file_len(path)?;
    let records = records_in(name, len, layout, true)?;
    let file = File::open(path).map_err(|e| DatasetError::io(path, e))?;
    let mut labels_only = Decoded {
        pixels: None,
        labels: Vec::with_capacity(records as usize),
    };
    let reader = BufReader::with_capacity(1 << 18, file);
    decode(
        &Source::NamedFile(path, name),
        len,
        reader,
        layout,
        true,
        &mut labels_only,
    )?;
    Ok(records)
}

/// Writes images and labels as a batch file's bytes: the inverse of `read_batch_bytes` (tests
/// and fixtures make files with it).
pub fn encode_batch(images: &Images, labels: &[u8]) -> Result<Vec<u8>, DatasetError> {
    if labels.len() != images.n {
        return Err(DatasetError::argument(
            "encode_batch",
            format!("{} images but {} labels", images.n, labels.len()),
        ));
    }
    let plane = images.rows * images.cols;
    let channels = images.channels;
    let mut out = Vec::with_capacity(images.n * (1 + images.image_len()));
    for (i, &label) in labels.iter().enumerate() {
        out.push(label);
        let image = images.image(i).unwrap_or_default();
        for k in 0..channels {
            out.extend((0..plane).map(|p| image[p * channels + k]));
        }
    }
    Ok(out)
}

/// Where the bytes come from, for errors: a read error on a file is the disk's.
enum Source<'a> {
    File(&'a Path),
    /// A file that errors call by another name (`archive.tar.gz: member`).
    NamedFile(&'a Path, &'a str),
    Named(&'a str),
}

impl Source<'_> {
    fn name(&self) -> String {
        match self {
            Source::File(path) => path.display().to_string(),
            Source::NamedFile(_, name) | Source::Named(name) => name.to_string(),
        }
    }

    fn io_error(&self, e: io::Error) -> DatasetError {
        match self {
            Source::File(path) | Source::NamedFile(path, _) => DatasetError::io(*path, e),
            Source::Named(name) => DatasetError::io(*name, e),
        }
    }
}

/// The decoded images so far (`None`: labels only) and labels.
struct Decoded {
    pixels: Option<Vec<u8>>,
    labels: Vec<u8>,
}

impl Decoded {
    /// Room for `records` images; `records` was derived from file lengths, so this allocation
    /// never exceeds the bytes the files hold.
    fn with_capacity(records: u64, layout: &BatchLayout) -> Decoded {
        let records = records as usize;
        Decoded {
            pixels: Some(Vec::with_capacity(records * (layout.record_len() - 1))),
            labels: Vec::with_capacity(records),
        }
    }

    fn into_images(self, layout: &BatchLayout) -> Result<(Images, Vec<u8>), DatasetError> {
        let pixels = self.pixels.unwrap_or_default();
        let n = self.labels.len();
        let images = Images::with_channels(n, layout.rows, layout.cols, layout.channels, pixels)?;
        Ok((images, self.labels))
    }
}

/// How many records a file of `len` bytes holds, or why it cannot be a batch.
fn records_in(
    name: &str,
    len: u64,
    layout: &BatchLayout,
    exact: bool,
) -> Result<u64, DatasetError> {
    let fail = |problem| Err(DatasetError::batch(name, problem));
    let record_len = layout.record_len() as u64;
    let records = layout.records as u64;
    if len > MAX_BATCH_BYTES {
        return fail(BatchProblem::TooLarge {
            actual: len,
            cap: MAX_BATCH_BYTES,
        });
    }
    if exact {
        let expected = layout.file_len();
        if len < expected {
            return fail(BatchProblem::Truncated {
                records,
                record_len,
                actual: len,
            });
        }
        if len > expected {
            return fail(BatchProblem::TrailingBytes {
                records,
                record_len,
                extra: len - expected,
            });
        }
        return Ok(records);
    }
    if len == 0 || !len.is_multiple_of(record_len) {
        return fail(BatchProblem::NotWholeRecords {
            record_len,
            actual: len,
        });
    }
    Ok(len / record_len)
}

/// Decodes the `len` bytes `r` should hold (already checked by `records_in`) into `out`.
fn decode(
    source: &Source,
    len: u64,
    mut r: impl Read,
    layout: &BatchLayout,
    exact: bool,
    out: &mut Decoded,
) -> Result<(), DatasetError> {
    let name = source.name();
    let fail = |problem| Err(DatasetError::batch(&name, problem));
    let records = records_in(&name, len, layout, exact)?;
    let record_len = layout.record_len();
    let (plane, channels) = (layout.plane(), layout.channels);
    let mut record = vec![0u8; record_len];
    for i in 0..records {
        let offset = i * record_len as u64;
        let got = read_full(&mut r, &mut record).map_err(|e| source.io_error(e))?;
        if got < record_len {
            // The file shrank after its length was read.
            return fail(BatchProblem::Truncated {
                records,
                record_len: record_len as u64,
                actual: offset + got as u64,
            });
        }
        let label = record[0];
        if label >= layout.classes {
            return fail(BatchProblem::LabelOutOfRange {
                record: i,
                offset,
                label,
                classes: layout.classes,
            });
        }
        out.labels.push(label);
        if let Some(pixels) = &mut out.pixels {
            let start = pixels.len();
            pixels.resize(start + plane * channels, 0);
            let image = &mut pixels[start..];
            for (k, channel) in record[1..].chunks_exact(plane).enumerate() {
                for (p, &value) in channel.iter().enumerate() {
                    image[p * channels + k] = value;
                }
            }
        }
    }
    // The file grew after its length was read.
    let extra =
        io::copy(&mut (&mut r).take(1 << 20), &mut io::sink()).map_err(|e| source.io_error(e))?;
    if extra > 0 {
        return fail(BatchProblem::TrailingBytes {
            records,
            record_len: record_len as u64,
            extra,
        });
    }
    Ok(())
}

/// The length of a regular file (opening a FIFO would wait for a writer forever).
fn regular_file_len(path: &Path) -> Result<u64, DatasetError> {
    let meta = std::fs::metadata(path).map_err(|e| DatasetError::io(path, e))?;
    if !meta.is_file() {
        return Err(DatasetError::io(
            path,
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file (a directory, FIFO, device or socket)",
            ),
        ));
    }
    Ok(meta.len())
}

/// Reads until `buf` is full or the input ends; returns how many bytes arrived.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
