//! Gathering a training report ([`convlab_cli::report::Report`]) from a model, the weights it
//! started from, its run and its data: what `convlab report` and `convlab train` (after every
//! epoch) write as `<checkpoint>.report.html`.
//!
//! The evaluated split (the test images by default) gives the confusion matrix and the most
//! confident mistakes; the probe images are the split's first image of each class (the first
//! ten images when there are more than ten classes), each run through every layer.

use anyhow::Result;
use convlab_cli::draw::{
    histogram_compare, model_svg, ColorScale, GridOpts, LayerBox, RgbImage, Tile,
};
use convlab_cli::report::{
    Evaluation, FeatureMaps, Filters, LayerWeights, Mistake, Probe, Report, Stats, WeightStats,
};
use convlab_nn::layers::keras_shape;
use convlab_nn::{Dataset, History, Layer, Sequential, U8Images};
use convlab_tensor::reduce::argmax_last_axis;

use crate::commands::{channel_grid, input_image};

/// How many mistakes the gallery shows.
const MISTAKES: usize = 12;
/// Probe images, at most.
const PROBES: usize = 10;
/// Feature maps drawn per layer, at most (the first ones).
const MAPS: usize = 64;

/// What a report says about the run besides the model and the data.
#[derive(Clone, Debug, Default)]
pub struct RunInfo {
    pub subtitle: String,
    pub settings: Vec<(String, String)>,
    pub history: Option<History>,
    /// Why there is no history, when `history` is None.
    pub history_note: Option<String>,
    /// The epoch whose weights the model holds, if known.
    pub best_epoch: Option<usize>,
    pub train_images: Option<usize>,
}

/// The evaluated split, with its name ("test", "validation") and the dataset's class names.
pub struct SplitRef<'a> {
    pub name: &'a str,
    pub images: &'a U8Images,
    pub class_names: &'a [&'a str],
    pub dataset_title: &'a str,
}

/// A run's settings (train's `Settings` as JSON) as (name, value) rows, sorted by name; the
/// names are train's arguments' (`batch_size` for `--batch-size`).
pub fn settings_pairs(settings: &serde_json::Value) -> Vec<(String, String)> {
    let Some(object) = settings.as_object() else {
        return Vec::new();
    };
    object
        .iter()
        .map(|(key, value)| {
            let text = match value {
                serde_json::Value::Null => "none".to_string(),
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (key.clone(), text)
        })
        .collect()
}

/// Boxes for the model diagram: an input box first, as Keras draws it.
pub fn layer_boxes(model: &Sequential) -> Vec<LayerBox> {
    let input = keras_shape(model.input_shape());
    let mut boxes = vec![LayerBox::new("input_layer", "InputLayer", &input, &input)];
    for l in model.layers() {
        boxes.push(LayerBox::new(
            &l.name,
            l.layer.kind(),
            &keras_shape(&l.input_shape),
            &keras_shape(&l.output_shape),
        ));
    }
    boxes
}

/// The report of `model` (compiled, for its loss), whose weights started as `untrained`'s.
pub fn gather(
    model: &Sequential,
    untrained: &Sequential,
    run: RunInfo,
    split: &SplitRef,
) -> Result<Report> {
    let history = run.history.unwrap_or_default();
    Ok(Report {
        title: format!("{} on {}", model.name, split.dataset_title),
        subtitle: run.subtitle,
        summary: model.summary(),
        plan: model.plan_table(),
        model_svg: model_svg(&layer_boxes(model)),
        settings: run.settings,
        best_epoch: run.best_epoch,
        stop_reason: history.stop_reason.clone(),
        epochs: history.epochs,
        history_note: run.history_note,
        train_images: run.train_images,
        class_names: split.class_names.iter().map(|s| s.to_string()).collect(),
        evaluation: Some(evaluate(model, split)?),
        weights: weights(model, untrained),
        filters: filters(model)?,
        probes: probes(model, split)?,
    })
}

/// Loss and accuracy as `evaluate` prints them, the confusion matrix and the worst mistakes, in
/// one pass over the split.
fn evaluate(model: &Sequential, split: &SplitRef) -> Result<Evaluation> {
    let images = split.images;
    let classes = split.class_names.len();
    let mut confusion = vec![vec![0usize; classes]; classes];
    // (confidence, index, label, predicted, probabilities) of the most confident mistakes.
    let mut mistakes: Vec<(f32, usize, usize, usize, Vec<f32>)> = Vec::new();
    let keep_most_confident = |mistakes: &mut Vec<(f32, usize, usize, usize, Vec<f32>)>| {
        // Ties: the earlier image first.
        mistakes.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        mistakes.truncate(MISTAKES);
    };
    let eval = model.evaluate_each(images, 256, &mut |batch, probs| {
        let predicted = argmax_last_axis(probs);
        for ((&i, &p), row) in batch
            .iter()
            .zip(&predicted)
            .zip(probs.data().chunks(classes))
        {
            let label = images.labels[images.items[i]] as usize;
            confusion[label][p] += 1;
            if p != label {
                mistakes.push((row[p], i, label, p, row.to_vec()));
            }
        }
        if mistakes.len() > 4 * MISTAKES {
            keep_most_confident(&mut mistakes);
        }
    })?;
    keep_most_confident(&mut mistakes);
    let mistakes = mistakes
        .into_iter()
        .map(|(_, index, label, predicted, probabilities)| {
            Ok(Mistake {
                index,
                image_png: input_image(&images.inputs(&[index]), 1)?.to_png()?,
                label,
                predicted,
                probabilities,
            })
        })
        .collect::<Result<_>>()?;
    Ok(Evaluation {
        split: split.name.to_string(),
        loss: eval.loss,
        accuracy: eval.accuracy.unwrap_or(f32::NAN),
        confusion,
        mistakes,
    })
}

fn weights(model: &Sequential, untrained: &Sequential) -> Vec<LayerWeights> {
    let mut out = Vec::new();
    for (entry, fresh) in model.layers().iter().zip(untrained.layers()) {
        if entry.weights.is_empty() {
            continue;
        }
        let weights = entry
            .specs
            .iter()
            .zip(entry.weights.iter().zip(&fresh.weights))
            .map(|(spec, (w, w0))| WeightStats {
                name: spec.name.to_string(),
                shape: w.shape().to_vec(),
                trained: Stats::of(w.data()),
                untrained: Stats::of(w0.data()),
            })
            .collect();
        let (kernel, kernel0) = (&entry.weights[0], &fresh.weights[0]);
        out.push(LayerWeights {
            layer: entry.name.clone(),
            kind: entry.layer.kind().to_string(),
            weights,
            histogram_svg: histogram_compare(
                kernel.data(),
                kernel0.data(),
                ["trained", "untrained"],
                40,
                &format!("{} kernel", entry.name),
                "weight value",
            ),
        });
    }
    out
}

/// The first Conv2D layer's kernels, one grid per input channel (at most three: a colour image's).
fn filters(model: &Sequential) -> Result<Option<Filters>> {
    let Some(entry) = model
        .layers()
        .iter()
        .find(|l| matches!(l.layer, Layer::Conv2D(_)))
    else {
        return Ok(None);
    };
    let kernel = &entry.weights[0];
    let &[kh, kw, cin, cout] = kernel.shape() else {
        return Ok(None);
    };
    let largest = kernel.data().iter().fold(0f32, |m, v| m.max(v.abs()));
    let limit = if largest.is_finite() && largest > 0.0 {
        largest
    } else {
        1.0
    };
    let opts = GridOpts {
        scale: (30 / kh.max(kw)).clamp(2, 10),
        color_scale: ColorScale::Fixed {
            vmin: -limit,
            vmax: limit,
        },
        ..GridOpts::filters()
    };
    let grids = (0..cin.min(3))
        .map(|channel| {
            let grid = channel_grid(
                kernel.data(),
                kh,
                kw,
                cin * cout,
                channel * cout,
                cout,
                16,
                &opts,
            )?;
            Ok((channel, grid.to_png()?))
        })
        .collect::<Result<_>>()?;
    Ok(Some(Filters {
        layer: entry.name.clone(),
        shape: [kh, kw, cin, cout],
        limit,
        grids,
    }))
}

/// The probe images: the first of each class, or the first few when there are many classes.
fn probe_indices(images: &U8Images, classes: usize) -> Vec<usize> {
    if classes > PROBES {
        return (0..images.len().min(PROBES)).collect();
    }
    let mut first = vec![None; classes];
    for i in 0..images.len() {
        let label = images.labels[images.items[i]] as usize;
        if let Some(slot @ None) = first.get_mut(label) {
            *slot = Some(i);
        }
        if first.iter().all(Option::is_some) {
            break;
        }
    }
    first.into_iter().flatten().collect()
}

fn probes(model: &Sequential, split: &SplitRef) -> Result<Vec<Probe>> {
    let images = split.images;
    let mut out = Vec::new();
    for index in probe_indices(images, split.class_names.len()) {
        let x = images.inputs(&[index]);
        let output = model.predict(&x, 1)?;
        let predicted = argmax_last_axis(&output)[0];
        let probabilities = output.data().to_vec();
        let mut layers = Vec::new();
        for (k, entry) in model.layers().iter().enumerate() {
            let &[h, w, c] = entry.output_shape.as_slice() else {
                continue;
            };
            let y = model.layer_output(&x, k, 1)?;
            layers.push(feature_maps(entry, y.data(), [h, w, c])?);
        }
        out.push(Probe {
            index,
            image_png: input_image(&x, 1)?.to_png()?,
            label: images.labels[images.items[index]] as usize,
            predicted,
            probabilities,
            layers,
        });
    }
    Ok(out)
}

/// One layer's output (h, w, c) as a grid of its first maps, each on its own colour scale.
fn feature_maps(
    entry: &convlab_nn::LayerEntry,
    y: &[f32],
    [h, w, c]: [usize; 3],
) -> Result<FeatureMaps> {
    let shown = c.min(MAPS);
    let cols = if shown <= 32 { shown.min(8) } else { 16 };
    // Small maps drawn larger, so a 7x7 map is as easy to see as a 28x28 one.
    let scale = (28 / h.max(w).max(1)).clamp(1, 8);
    let opts = GridOpts {
        scale,
        gap: 1,
        color_scale: ColorScale::PerTile,
        ..GridOpts::feature_maps()
    };
    let maps: Vec<Vec<f32>> = (0..shown)
        .map(|m| (0..h * w).map(|p| y[p * c + m]).collect())
        .collect();
    let ranges = maps
        .iter()
        .map(|map| {
            let s = Stats::of(map);
            (s.min, s.max)
        })
        .collect();
    let tiles: Vec<Tile> = maps.iter().map(|m| Tile::new(m, h, w)).collect();
    let grid: RgbImage =
        convlab_cli::draw::image_grid(&tiles, shown.div_ceil(cols.max(1)), cols.max(1), &opts)?;
    Ok(FeatureMaps {
        layer: entry.name.clone(),
        kind: entry.layer.kind().to_string(),
        shape: [h, w, c],
        shown,
        cols,
        scale,
        gap: 1,
        png: grid.to_png()?,
        ranges,
    })
}
