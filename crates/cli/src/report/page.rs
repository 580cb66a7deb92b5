//! Laying a [`Report`] out as one HTML page (see the module docs of `report` for its sections).
//!
//! Every piece of text from a model or a file (a model's name, a class name) goes through
//! [`escape_xml`], in text and in attributes alike; markup comes only from this file and from
//! [`crate::draw`]. The script and the style are this crate's own files, included as they are.

use std::fmt::Write;

use super::{base64, Evaluation, FeatureMaps, Filters, Mistake, Probe, Report, Stats};
use crate::draw::escape_xml as esc;

const STYLE: &str = include_str!("report.css");
const SCRIPT: &str = include_str!("report.js");

/// How many times the browser enlarges an input image and a feature map (PNG pixels are values;
/// `image-rendering: pixelated` keeps them sharp).
const IMAGE_ZOOM: usize = 3;
const MAP_ZOOM: usize = 2;

pub(super) fn html(r: &Report) -> String {
    let mut p = String::with_capacity(1 << 20);
    let _ = write!(
        p,
        r##"<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" lang="en">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<meta name="generator" content="convlab {version}"/>
<title>{title}</title>
<style>
{STYLE}</style>
</head>
<body>
<header>
<h1>{title}</h1>
<p class="subtitle">{subtitle}</p>
<nav class="toc"><a href="#model">Model</a> <a href="#run">Run</a> <a href="#curves">Curves</a> <a href="#confusion">Confusion</a> <a href="#mistakes">Mistakes</a> <a href="#weights">Weights</a> <a href="#filters">Filters</a> <a href="#probes">Feature maps</a></nav>
<p id="readout" class="readout" aria-live="polite">Hover over a cell, a point, a bar or a feature map to read its value.</p>
</header>
<main>
"##,
        version = env!("CARGO_PKG_VERSION"),
        title = esc(&r.title),
        subtitle = esc(&r.subtitle),
    );
    model_section(&mut p, r);
    run_section(&mut p, r);
    curves_section(&mut p, r);
    match &r.evaluation {
        Some(eval) => {
            confusion_section(&mut p, eval, &r.class_names);
            mistakes_section(&mut p, eval, &r.class_names);
        }
        None => {
            for (id, heading) in [("confusion", "Confusion matrix"), ("mistakes", "Mistakes")] {
                let _ = write!(
                    p,
                    "<section id=\"{id}\">\n<h2>{heading}</h2>\n<p class=\"note\">No data was evaluated.</p>\n</section>\n"
                );
            }
        }
    }
    weights_section(&mut p, r);
    filters_section(&mut p, r.filters.as_ref());
    probes_section(&mut p, r);
    let _ = write!(
        p,
        "</main>\n<footer>Written by convlab {}. This file is self-contained: it loads nothing from the network.</footer>\n<script>/*<![CDATA[*/\n{SCRIPT}/*]]>*/</script>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION")
    );
    p
}

/// An SVG document, ready to sit inside the page.
fn inline_svg(svg: &str) -> &str {
    let svg = svg.trim();
    match svg.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map_or(svg, |(_, after)| after.trim()),
        None => svg,
    }
}

fn png_img(png: &[u8], width: usize, height: usize, alt: &str, extra: &str) -> String {
    format!(
        r#"<img src="data:image/png;base64,{}" width="{width}" height="{height}" alt="{}" {extra}/>"#,
        base64(png),
        esc(alt)
    )
}

/// The PNG's own width and height, from its IHDR chunk (0 x 0 if it is not a PNG).
fn png_size(png: &[u8]) -> (usize, usize) {
    let be = |at: usize| {
        png.get(at..at + 4)
            .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    (be(16), be(20))
}

fn model_section(p: &mut String, r: &Report) {
    let _ = write!(
        p,
        "<section id=\"model\">\n<h2>Model</h2>\n<div class=\"row\">\n<pre class=\"summary\">{}</pre>\n<div class=\"diagram\">{}</div>\n</div>\n<pre class=\"plan\">{}</pre>\n</section>\n",
        esc(&r.summary),
        inline_svg(&r.model_svg),
        esc(&r.plan)
    );
}

fn run_section(p: &mut String, r: &Report) {
    let _ = write!(
        p,
        "<section id=\"run\">\n<h2>Run</h2>\n<div class=\"row\">\n<table class=\"settings\">\n"
    );
    for (name, value) in &r.settings {
        let _ = writeln!(p, "<tr><th>{}</th><td>{}</td></tr>", esc(name), esc(value));
    }
    if !r.epochs.is_empty() {
        let seconds: f64 = r.epochs.iter().map(|e| e.seconds).sum();
        let mean = seconds / r.epochs.len() as f64;
        let _ = writeln!(
            p,
            "<tr><th>epochs done</th><td>{}</td></tr>\n<tr><th>training time</th><td>{seconds:.1} s, {mean:.2} s an epoch (validation included)</td></tr>",
            r.epochs.len()
        );
        if let Some(images) = r.train_images.filter(|_| mean > 0.0) {
            let _ = writeln!(
                p,
                "<tr><th>throughput</th><td>{:.0} training images/s</td></tr>",
                images as f64 / mean
            );
        }
    }
    if let Some(reason) = &r.stop_reason {
        let _ = writeln!(p, "<tr><th>stopped</th><td>{}</td></tr>", esc(reason));
    }
    p.push_str("</table>\n");
    if r.epochs.is_empty() {
        let note = r.history_note.as_deref().unwrap_or("No training history.");
        let _ = writeln!(p, "<p class=\"note\">{}</p>", esc(note));
    } else {
        p.push_str("<table class=\"history\">\n<tr><th>epoch</th><th>loss</th><th>accuracy</th><th>val_loss</th><th>val_accuracy</th><th>seconds</th></tr>\n");
        for e in &r.epochs {
            let best = if Some(e.epoch) == r.best_epoch {
                " class=\"best\""
            } else {
                ""
            };
            let _ = writeln!(
                p,
                "<tr{best} data-epoch=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td></tr>",
                e.epoch,
                e.epoch,
                four(Some(e.loss)),
                four(e.accuracy),
                four(e.val_loss),
                four(e.val_accuracy),
                e.seconds
            );
        }
        p.push_str("</table>\n");
    }
    p.push_str("</div>\n</section>\n");
}

fn four(v: Option<f32>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.4}"))
}

fn curves_section(p: &mut String, r: &Report) {
    p.push_str("<section id=\"curves\">\n<h2>Learning curves</h2>\n");
    if r.epochs.is_empty() {
        p.push_str("<p class=\"note\">No epochs to draw.</p>\n");
    } else {
        let data = crate::draw::HistoryData {
            loss: r.epochs.iter().map(|e| e.loss).collect(),
            accuracy: r.epochs.iter().filter_map(|e| e.accuracy).collect(),
            val_loss: r.epochs.iter().filter_map(|e| e.val_loss).collect(),
            val_accuracy: r.epochs.iter().filter_map(|e| e.val_accuracy).collect(),
        };
        let best = match r.best_epoch {
            Some(e) => format!(
                "The dashed line marks epoch {e}, the lowest val_loss: the weights the checkpoint keeps."
            ),
            None => String::new(),
        };
        let _ = write!(
            p,
            "<div class=\"figure\">{}</div>\n<p class=\"caption\">Loss and accuracy after each epoch, on the training images (train) and the validation split (val). {best}</p>\n",
            inline_svg(&crate::draw::learning_curves(&data, r.best_epoch))
        );
    }
    p.push_str("</section>\n");
}

fn confusion_section(p: &mut String, eval: &Evaluation, class_names: &[String]) {
    let names: Vec<&str> = class_names.iter().map(String::as_str).collect();
    let images: usize = eval.confusion.iter().flatten().sum();
    let _ = write!(
        p,
        "<section id=\"confusion\">\n<h2>Confusion matrix</h2>\n<p>The {split} split, {images} images: loss {:.4}, accuracy {:.4}.</p>\n<div class=\"figure\">{}</div>\n<p class=\"caption\">Row: the true class; column: the class predicted. Each cell shows its count, coloured by its share of the row.</p>\n</section>\n",
        eval.loss,
        eval.accuracy,
        inline_svg(&crate::draw::confusion_heat_map(&eval.confusion, &names)),
        split = esc(&eval.split),
    );
}

fn mistakes_section(p: &mut String, eval: &Evaluation, class_names: &[String]) {
    let _ = write!(
        p,
        "<section id=\"mistakes\">\n<h2>Most confident mistakes</h2>\n<p>The {} {} images of the {} split that the model got wrong with the highest probability for its wrong answer.</p>\n<div class=\"gallery\">\n",
        eval.mistakes.len(),
        if eval.mistakes.len() == 1 { "image" } else { "images" },
        esc(&eval.split)
    );
    if eval.mistakes.is_empty() {
        p.push_str("<p class=\"note\">No image was misclassified.</p>\n");
    }
    for m in &eval.mistakes {
        mistake(p, m, class_names, &eval.split);
    }
    p.push_str("</div>\n</section>\n");
}

fn class_name(names: &[String], k: usize) -> String {
    names
        .get(k)
        .cloned()
        .unwrap_or_else(|| format!("class {k}"))
}

fn mistake(p: &mut String, m: &Mistake, names: &[String], split: &str) {
    let (w, h) = png_size(&m.image_png);
    let label = class_name(names, m.label);
    let predicted = class_name(names, m.predicted);
    let confidence = m
        .probabilities
        .get(m.predicted)
        .copied()
        .unwrap_or(f32::NAN);
    let _ = write!(
        p,
        "<figure class=\"mistake\" data-index=\"{}\" data-label=\"{}\" data-predicted=\"{}\">\n{}\n<figcaption>{split} image {}: <b>{}</b> taken for <b>{}</b> ({confidence:.4})</figcaption>\n",
        m.index,
        m.label,
        m.predicted,
        png_img(
            &m.image_png,
            w * IMAGE_ZOOM,
            h * IMAGE_ZOOM,
            &format!("{split} image {}", m.index),
            ""
        ),
        m.index,
        esc(&label),
        esc(&predicted),
        split = esc(split),
    );
    bars(p, &m.probabilities, names, m.label, 3);
    p.push_str("</figure>\n");
}

/// The `top` largest probabilities (all of them when `top` is that long) as bars, largest first;
/// the true class's bar is marked.
fn bars(p: &mut String, probabilities: &[f32], names: &[String], label: usize, top: usize) {
    let mut ranked: Vec<(usize, f32)> = probabilities.iter().copied().enumerate().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    p.push_str("<div class=\"bars\">\n");
    for (class, prob) in ranked.into_iter().take(top) {
        let name = class_name(names, class);
        let truth = if class == label { " truth" } else { "" };
        let tip = format!(
            "{name}: probability {prob:.4}{}",
            if class == label {
                " (the true class)"
            } else {
                ""
            }
        );
        let _ = writeln!(
            p,
            "<div class=\"bar-row{truth}\" data-class=\"{class}\" data-p=\"{prob}\" data-tip=\"{tip}\" title=\"{tip}\"><span class=\"name\">{}</span><span class=\"bar\"><span style=\"width:{:.1}%\"></span></span><span class=\"p\">{prob:.4}</span></div>",
            esc(&name),
            (prob.clamp(0.0, 1.0) * 100.0),
            tip = esc(&tip),
        );
    }
    p.push_str("</div>\n");
}

fn stats_cells(s: &Stats) -> String {
    format!(
        "<td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td>",
        s.mean, s.std, s.min, s.max
    )
}

fn weights_section(p: &mut String, r: &Report) {
    p.push_str("<section id=\"weights\">\n<h2>Weights</h2>\n");
    if r.weights.is_empty() {
        p.push_str("<p class=\"note\">The model has no weights.</p>\n</section>\n");
        return;
    }
    p.push_str("<table class=\"weights\">\n<tr><th rowspan=\"2\">layer</th><th rowspan=\"2\">weight</th><th rowspan=\"2\">shape</th><th colspan=\"4\">trained</th><th colspan=\"4\">untrained (initial)</th></tr>\n<tr><th>mean</th><th>std</th><th>min</th><th>max</th><th>mean</th><th>std</th><th>min</th><th>max</th></tr>\n");
    for layer in &r.weights {
        for w in &layer.weights {
            let _ = writeln!(
                p,
                "<tr><td>{} ({})</td><td>{}</td><td>{:?}</td>{}{}</tr>",
                esc(&layer.layer),
                esc(&layer.kind),
                esc(&w.name),
                w.shape,
                stats_cells(&w.trained),
                stats_cells(&w.untrained)
            );
        }
    }
    p.push_str("</table>\n<div class=\"gallery\">\n");
    for layer in &r.weights {
        let _ = writeln!(
            p,
            "<div class=\"figure hist\">{}</div>",
            inline_svg(&layer.histogram_svg)
        );
    }
    p.push_str("</div>\n<p class=\"caption\">Each layer's kernel values, trained over untrained (the weights its run started from: the checkpoint's seed, Glorot-uniform unless the model says otherwise).</p>\n</section>\n");
}

fn filters_section(p: &mut String, filters: Option<&Filters>) {
    p.push_str("<section id=\"filters\">\n<h2>First-layer filters</h2>\n");
    let Some(f) = filters else {
        p.push_str("<p class=\"note\">The model has no Conv2D layer.</p>\n</section>\n");
        return;
    };
    let [kh, kw, cin, cout] = f.shape;
    for (channel, png) in &f.grids {
        let (w, h) = png_size(png);
        let _ = write!(
            p,
            "<figure class=\"filters\">\n{}\n<figcaption>{}: its {cout} filters of {kh}x{kw} on input channel {channel} of {cin}.</figcaption>\n</figure>\n",
            png_img(
                png,
                w * 2,
                h * 2,
                &format!("{} filters, input channel {channel}", f.layer),
                ""
            ),
            esc(&f.layer)
        );
    }
    let _ = write!(
        p,
        "<p class=\"caption\">Colours run from dark purple at {:.3} through green to yellow at {:.3} (viridis), the same scale for every filter.</p>\n</section>\n",
        -f.limit, f.limit
    );
}

fn probes_section(p: &mut String, r: &Report) {
    p.push_str("<section id=\"probes\">\n<h2>Feature maps</h2>\n");
    if r.probes.is_empty() {
        p.push_str("<p class=\"note\">No images were run through the model.</p>\n</section>\n");
        return;
    }
    p.push_str("<p>A few images through the model: the class probabilities, then the output of every layer that keeps a height and a width, one small picture per channel, each coloured from its own minimum (dark) to its maximum (bright).</p>\n<nav class=\"pick\" aria-label=\"pick an image\">\n");
    for probe in &r.probes {
        let (w, h) = png_size(&probe.image_png);
        let _ = writeln!(
            p,
            "<button type=\"button\" data-image=\"{}\" title=\"image {}: {}\">{}</button>",
            probe.index,
            probe.index,
            esc(&class_name(&r.class_names, probe.label)),
            png_img(
                &probe.image_png,
                w,
                h,
                &format!("image {}", probe.index),
                ""
            )
        );
    }
    p.push_str("</nav>\n");
    let split = r
        .evaluation
        .as_ref()
        .map_or("test", |e| e.split.as_str())
        .to_string();
    for probe in &r.probes {
        one_probe(p, probe, &r.class_names, &split);
    }
    p.push_str("</section>\n");
}

fn one_probe(p: &mut String, probe: &Probe, names: &[String], split: &str) {
    let (w, h) = png_size(&probe.image_png);
    let _ = write!(
        p,
        "<div class=\"probe\" id=\"image-{}\" data-image=\"{}\">\n<h3>{} image {}: {}, predicted {}</h3>\n<div class=\"row\">\n{}\n",
        probe.index,
        probe.index,
        esc(split),
        probe.index,
        esc(&class_name(names, probe.label)),
        esc(&class_name(names, probe.predicted)),
        png_img(
            &probe.image_png,
            w * IMAGE_ZOOM,
            h * IMAGE_ZOOM,
            &format!("{split} image {}", probe.index),
            "class=\"input\""
        ),
    );
    bars(
        p,
        &probe.probabilities,
        names,
        probe.label,
        probe.probabilities.len(),
    );
    p.push_str("</div>\n");
    for maps in &probe.layers {
        feature_maps(p, maps);
    }
    p.push_str("</div>\n");
}

fn feature_maps(p: &mut String, m: &FeatureMaps) {
    let [mh, mw, c] = m.shape;
    let (w, h) = png_size(&m.png);
    let ranges: Vec<String> = m
        .ranges
        .iter()
        .map(|(lo, hi)| format!("{lo},{hi}"))
        .collect();
    let shown = if m.shown < c {
        format!(" (the first {} of {c} shown)", m.shown)
    } else {
        String::new()
    };
    let extra = format!(
        r#"class="fmap" data-layer="{}" data-cols="{}" data-map-h="{mh}" data-map-w="{mw}" data-scale="{}" data-gap="{}" data-ranges="{}""#,
        esc(&m.layer),
        m.cols,
        m.scale,
        m.gap,
        ranges.join(" ")
    );
    let _ = write!(
        p,
        "<figure class=\"maps\">\n<figcaption>{} ({}): {c} maps of {mh}x{mw}{shown}</figcaption>\n{}\n</figure>\n",
        esc(&m.layer),
        esc(&m.kind),
        png_img(
            &m.png,
            w * MAP_ZOOM,
            h * MAP_ZOOM,
            &format!("{} feature maps", m.layer),
            &extra
        )
    );
}
