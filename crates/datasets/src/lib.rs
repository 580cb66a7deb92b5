//! convlab-datasets: the data side of convlab, the way Keras users know it.
//!
//! ```no_run
//! use convlab_datasets::{fashion_mnist, train_test_split, Batches};
//!
//! let ((x_train, y_train), (x_test, y_test)) = fashion_mnist::load_data()?;
//! let split = train_test_split(x_train.len(), 0.2, 42)?; // scikit-learn's split, exactly
//! for batch in &Batches::new(split.train.len(), 32, true, 7, 0)? {
//!     let rows: Vec<usize> = batch.iter().map(|&i| split.train[i]).collect();
//!     let x = x_train.to_nhwc_f32(&rows)?; // [32, 28, 28, 1], in [0, 1]
//! #   let _ = x;
//! }
//! # let _ = (y_train, x_test, y_test);
//! # Ok::<(), convlab_datasets::DatasetError>(())
//! ```
//!
//! - `dataset_name`: `DatasetName`, the four datasets by the names `--dataset` takes
//!   (`fashion-mnist`, `mnist`, `kmnist`, `cifar10`), each with its classes, image shape and one
//!   `load_from`.
//! - `fashion_mnist`, `mnist`, `kmnist`: the IDX datasets, `load_data()` like Keras's.
//! - `cifar10`: CIFAR-10's binary batches (`cifar10::batch`), turned from R, G, B planes into
//!   NHWC.
//! - `images`: `Images`, images kept as u8 [N, H, W, C], scaled to f32 a batch at a time.
//! - `idx`: the IDX file format, plain or gzipped, read without trusting its header; a writer too.
//! - `tar`: just enough of the tar format to take named files out of CIFAR-10's archive.
//! - `spec`: what an IDX dataset's files must be; `verify`: the size and SHA-256 checks, of the
//!   files as published and of their contents.
//! - `source`: where the files are looked for; `download`: fetching them safely into the cache.
//! - `split`: `train_test_split`, identical to scikit-learn's; `mt19937`: NumPy's generator.
//! - `batches`: seeded, portable shuffling per epoch.
//!
//! Read in this order: `idx`, `images`, `fashion_mnist`, `source`, `load`, `cifar10`, `split`,
//! `batches`.

pub mod batches;
pub mod cifar10;
pub mod dataset_name;
pub mod download;
pub mod error;
pub mod fashion_mnist;
pub mod idx;
pub mod images;
pub mod kmnist;
pub mod load;
pub mod mnist;
pub mod mt19937;
pub mod source;
pub mod spec;
pub mod split;
pub mod tar;
pub mod verify;

pub use batches::Batches;
pub use dataset_name::DatasetName;
pub use download::DownloadConfig;
pub use error::{ArchiveProblem, BatchProblem, DatasetError, IdxProblem};
pub use images::{select_labels, Images};
pub use load::{load, LoadedData};
pub use source::LoadOptions;
pub use spec::{DatasetSpec, FileSpec, Published};
pub use split::{train_test_split, Split};
