//! Reading a located IDX dataset into memory: four IDX files become two (images, labels) pairs.

use std::path::Path;
use std::thread;

use crate::error::DatasetError;
use crate::idx::{read_idx, IdxArray};
use crate::images::Images;
use crate::source::{locate, LoadOptions};
use crate::spec::{DatasetSpec, FileSpec};
use crate::verify::verify_file;

/// `((x_train, y_train), (x_test, y_test))`, as Keras's `load_data()` returns: images u8
/// `[N, H, W, C]`, labels u8 `[N]`. Every dataset, IDX or CIFAR-10, loads into this.
pub type LoadedData = ((Images, Vec<u8>), (Images, Vec<u8>));

/// Finds, reads and checks a dataset.
pub fn load(spec: &DatasetSpec, options: &LoadOptions) -> Result<LoadedData, DatasetError> {
    let located = locate(spec, options)?;
    let [train_x, train_y, test_x, test_y] = &located.paths;
    let classes = spec.num_classes;
    // The training images are most of the work (47 of the 55 MB); read them on a second thread.
    thread::scope(|s| {
        let train = s.spawn(|| {
            read_pair(
                (train_x, &spec.train_images),
                (train_y, &spec.train_labels),
                options.verify,
                classes,
            )
        });
        let test = read_pair(
            (test_x, &spec.test_images),
            (test_y, &spec.test_labels),
            options.verify,
            classes,
        );
        let train = train
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        let test = test?;
        // One model reads both: images of another size would be misread, not refused, later.
        let ((a, _), (b, _)) = (&train, &test);
        if let Some(expected) = spec.item_shape {
            for (images, path) in [(a, train_x), (b, test_x)] {
                if images.item_shape() != expected {
                    return Err(DatasetError::ItemShape {
                        file: path.display().to_string(),
                        dataset: spec.title,
                        expected,
                        found: images.item_shape(),
                    });
                }
            }
        }
        if (a.rows, a.cols) != (b.rows, b.cols) {
            return Err(DatasetError::ImageSizeMismatch {
                train_file: train_x.display().to_string(),
                train_rows: a.rows,
                train_cols: a.cols,
                test_file: test_x.display().to_string(),
                test_rows: b.rows,
                test_cols: b.cols,
            });
        }
        Ok((train, test))
    })
}

/// Reads one images file and its labels, checking that they belong together.
fn read_pair(
    (images_path, images_spec): (&Path, &FileSpec),
    (labels_path, labels_spec): (&Path, &FileSpec),
    verify_files: bool,
    classes: u8,
) -> Result<(Images, Vec<u8>), DatasetError> {
    let images = into_images(
        images_path,
        read_checked(images_path, images_spec, verify_files)?,
    )?;
    let labels = into_labels(
        labels_path,
        read_checked(labels_path, labels_spec, verify_files)?,
        classes,
    )?;
    if images.n != labels.len() {
        return Err(DatasetError::CountMismatch {
            images_file: images_path.display().to_string(),
            images: images.n,
            labels_file: labels_path.display().to_string(),
            labels: labels.len(),
        });
    }
    Ok((images, labels))
}

fn read_checked(path: &Path, spec: &FileSpec, verify: bool) -> Result<IdxArray, DatasetError> {
    let array = read_idx(path)?;
    if verify {
        verify_file(path, spec, &array)?;
    }
    Ok(array)
}

fn into_images(path: &Path, array: IdxArray) -> Result<Images, DatasetError> {
    let found = describe(&array);
    match array.into_u8() {
        Some((dims, pixels)) if dims.len() == 3 => Images::new(dims[0], dims[1], dims[2], pixels),
        _ => Err(DatasetError::Layout {
            file: path.display().to_string(),
            expected: "images: u8 values with 3 dimensions [N, rows, cols]",
            found,
        }),
    }
}

fn into_labels(path: &Path, array: IdxArray, classes: u8) -> Result<Vec<u8>, DatasetError> {
    let file = path.display().to_string();
    let found = describe(&array);
    let labels = match array.into_u8() {
        Some((dims, labels)) if dims.len() == 1 => labels,
        _ => {
            return Err(DatasetError::Layout {
                file,
                expected: "labels: u8 values with 1 dimension [N]",
                found,
            })
        }
    };
    if let Some(index) = labels.iter().position(|&l| l >= classes) {
        return Err(DatasetError::LabelOutOfRange {
            file,
            index,
            label: labels[index],
            classes,
        });
    }
    Ok(labels)
}

fn describe(array: &IdxArray) -> String {
    format!(
        "{:?} values with dimensions {:?}",
        array.dtype(),
        array.dims()
    )
}
