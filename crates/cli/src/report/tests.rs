use super::*;
use crate::draw::{image_grid, GridOpts, Tile};

fn tiny_png(side: usize) -> Vec<u8> {
    let values = vec![0.5f32; side * side];
    let tile = Tile::new(&values, side, side);
    let opts = GridOpts {
        scale: 1,
        gap: 0,
        ..GridOpts::input_image()
    };
    image_grid(&[tile], 1, 1, &opts).unwrap().to_png().unwrap()
}

fn report() -> Report {
    let names = ["cat", "dog <&>", "bird"];
    let epochs = (1..=3)
        .map(|epoch| EpochLogs {
            epoch,
            loss: 1.0 / epoch as f32,
            accuracy: Some(0.5 + 0.1 * epoch as f32),
            val_loss: Some(1.1 / epoch as f32),
            val_accuracy: Some(0.45 + 0.1 * epoch as f32),
            seconds: 2.0,
        })
        .collect();
    let probe = Probe {
        index: 4,
        image_png: tiny_png(6),
        label: 1,
        predicted: 0,
        probabilities: vec![0.7, 0.2, 0.1],
        layers: vec![FeatureMaps {
            layer: "conv2d".into(),
            kind: "Conv2D".into(),
            shape: [6, 6, 2],
            shown: 2,
            cols: 2,
            scale: 1,
            gap: 1,
            png: tiny_png(6),
            ranges: vec![(0.0, 1.5), (-0.25, 2.0)],
        }],
    };
    Report {
        title: "m</title><script>alert(1)</script>".into(),
        subtitle: "after epoch 3".into(),
        summary: "Model: \"m\"\n<table>".into(),
        plan: "Plan".into(),
        model_svg: "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1\" height=\"1\"/>".into(),
        settings: vec![("seed".into(), "42".into())],
        epochs,
        best_epoch: Some(3),
        stop_reason: None,
        history_note: None,
        train_images: Some(100),
        class_names: names.iter().map(|s| s.to_string()).collect(),
        evaluation: Some(Evaluation {
            split: "test".into(),
            loss: 0.5,
            accuracy: 0.75,
            confusion: vec![vec![5, 1, 0], vec![2, 3, 0], vec![0, 0, 1]],
            mistakes: vec![Mistake {
                index: 9,
                image_png: tiny_png(6),
                label: 1,
                predicted: 0,
                probabilities: vec![0.9, 0.05, 0.05],
            }],
        }),
        weights: vec![LayerWeights {
            layer: "conv2d".into(),
            kind: "Conv2D".into(),
            weights: vec![WeightStats {
                name: "kernel".into(),
                shape: vec![3, 3, 1, 2],
                trained: Stats::of(&[1.0, 2.0, 3.0]),
                untrained: Stats::of(&[0.0]),
            }],
            histogram_svg: crate::draw::histogram(&[1.0, 2.0], 4, "h", "x"),
        }],
        filters: Some(Filters {
            layer: "conv2d".into(),
            shape: [3, 3, 1, 2],
            limit: 0.5,
            grids: vec![(0, tiny_png(3))],
        }),
        probes: vec![probe],
    }
}

/// The page parsed as the XML it is written to be.
fn parse(html: &str) -> roxmltree::Document<'_> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    roxmltree::Document::parse_with_options(html, options).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_page_is_well_formed_and_has_every_section() {
    let html = report().to_html();
    let doc = parse(&html);
    let ids: Vec<&str> = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "section")
        .filter_map(|n| n.attribute("id"))
        .collect();
    assert_eq!(
        ids,
        [
            "model",
            "run",
            "curves",
            "confusion",
            "mistakes",
            "weights",
            "filters",
            "probes"
        ]
    );
    // Nothing is loaded from elsewhere: every image is inline.
    for node in doc.descendants() {
        for attr in ["src", "href"] {
            if let Some(v) = node.attribute(attr) {
                assert!(
                    v.starts_with("data:image/png;base64,") || v.starts_with('#'),
                    "{attr}={v}"
                );
            }
        }
    }
}

#[test]
fn text_from_a_model_cannot_become_markup() {
    let html = report().to_html();
    let doc = parse(&html);
    // One script element, the page's own; the hostile title is text.
    let scripts = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "script")
        .count();
    assert_eq!(scripts, 1);
    let title = doc
        .descendants()
        .find(|n| n.tag_name().name() == "title")
        .unwrap();
    assert_eq!(title.text(), Some("m</title><script>alert(1)</script>"));
    assert!(html.contains("dog &lt;&amp;&gt;"));
}

#[test]
fn the_numbers_drawn_are_the_numbers_given() {
    let r = report();
    let html = r.to_html();
    let doc = parse(&html);
    // The heat map's cells carry the confusion counts.
    let eval = r.evaluation.as_ref().unwrap();
    let mut cells = 0;
    for cell in doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("cell"))
    {
        let t: usize = cell.attribute("data-true").unwrap().parse().unwrap();
        let p: usize = cell.attribute("data-pred").unwrap().parse().unwrap();
        let count: usize = cell.attribute("data-count").unwrap().parse().unwrap();
        assert_eq!(count, eval.confusion[t][p]);
        cells += 1;
    }
    assert_eq!(cells, 9);
    // The history table's rows are the epochs; the best one is marked.
    let best = doc
        .descendants()
        .find(|n| n.attribute("class") == Some("best"))
        .unwrap();
    assert_eq!(best.attribute("data-epoch"), Some("3"));
    // The probe's bars: every class, largest first, the true class marked.
    let probe = doc
        .descendants()
        .find(|n| n.attribute("class") == Some("probe"))
        .unwrap();
    let bars: Vec<_> = probe
        .descendants()
        .filter(|n| n.attribute("data-p").is_some())
        .collect();
    let ps: Vec<f32> = bars
        .iter()
        .map(|b| b.attribute("data-p").unwrap().parse().unwrap())
        .collect();
    assert_eq!(ps, [0.7, 0.2, 0.1]);
    assert!(bars[1].attribute("class").unwrap().contains("truth"));
    // The feature-map grid records its layout and ranges for the hover read-out.
    let fmap = doc
        .descendants()
        .find(|n| n.attribute("class") == Some("fmap"))
        .unwrap();
    assert_eq!(fmap.attribute("data-ranges"), Some("0,1.5 -0.25,2"));
    assert_eq!(fmap.attribute("data-cols"), Some("2"));
    // Drawn at twice the PNG's size.
    assert_eq!(fmap.attribute("width"), Some("12"));
}

#[test]
fn a_report_without_data_or_history_still_says_what_is_missing() {
    let r = Report {
        title: "t".into(),
        history_note: Some("no backup beside the checkpoint".into()),
        ..Report::default()
    };
    let html = r.to_html();
    parse(&html);
    assert!(html.contains("no backup beside the checkpoint"));
    assert!(html.contains("No data was evaluated."));
    assert!(html.contains("The model has no Conv2D layer."));
}

#[test]
fn stats_are_numpys() {
    let s = Stats::of(&[1.0, 2.0, 3.0, 4.0]);
    assert_eq!((s.mean, s.min, s.max), (2.5, 1.0, 4.0));
    assert!((s.std - 1.118033988749895).abs() < 1e-12);
    assert!(Stats::of(&[]).mean.is_nan());
}
