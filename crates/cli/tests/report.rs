//! The HTML report end to end: written by `train` after every epoch and by `convlab report`,
//! its numbers checked against the commands that print them (the history CSV, `evaluate
//! --confusion`, `predict --csv`), then rendered in a real browser.
//!
//! The browser part runs Chromium headless (`--screenshot`, `--dump-dom`) when it is installed
//! (`/usr/bin/chromium`, or `$CONVLAB_CHROMIUM`); `.ci/run` installs Debian's chromium and sets
//! `CONVLAB_REQUIRE_BROWSER=1`, so there a missing browser fails the test instead of skipping it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn convlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_convlab"))
        .args(args)
        .output()
        .expect("run convlab")
}

#[track_caller]
fn ok(o: Output) -> String {
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    assert!(o.status.success(), "stdout: {out}\nstderr: {err}");
    out
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("convlab-report-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One short run of the chapter's model (3 epochs on 1,200 images), shared by the tests.
fn run() -> &'static Path {
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = scratch("run");
        let checkpoint = dir.join("m.safetensors");
        ok(convlab(&[
            "train",
            "--epochs",
            "3",
            "--limit",
            "1200",
            "--patience",
            "5",
            "--checkpoint",
            checkpoint.to_str().unwrap(),
        ]));
        checkpoint
    })
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The page, parsed as the XML it is written to be.
fn parse(html: &str) -> roxmltree::Document<'_> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    roxmltree::Document::parse_with_options(html, options).expect("well-formed XHTML")
}

fn by_class<'a, 'i>(doc: &'a roxmltree::Document<'i>, class: &str) -> Vec<roxmltree::Node<'a, 'i>> {
    doc.descendants()
        .filter(|n| {
            n.attribute("class")
                .is_some_and(|c| c.split(' ').any(|c| c == class))
        })
        .collect()
}

fn attr<T: std::str::FromStr>(node: &roxmltree::Node, name: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    node.attribute(name)
        .unwrap_or_else(|| panic!("no {name}"))
        .parse()
        .unwrap()
}

/// The confusion counts the heat map carries, as (true, predicted) -> count.
fn heat_map(doc: &roxmltree::Document) -> HashMap<(usize, usize), usize> {
    by_class(doc, "cell")
        .iter()
        .map(|c| {
            (
                (attr(c, "data-true"), attr(c, "data-pred")),
                attr(c, "data-count"),
            )
        })
        .collect()
}

#[test]
fn train_writes_a_report_whose_numbers_are_the_runs() {
    let checkpoint = run();
    let report = checkpoint.with_file_name("m.report.html");
    let html = std::fs::read_to_string(&report).expect("train writes m.report.html");
    let doc = parse(&html);

    // The curves' points are the history CSV's values, drawn where their values are.
    let csv = std::fs::read_to_string(checkpoint.with_file_name("m.history.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 3);
    let columns = [
        ("loss train", 1),
        ("accuracy train", 2),
        ("loss val", 3),
        ("accuracy val", 4),
    ];
    let areas = by_class(&doc, "plot-area");
    assert_eq!(areas.len(), 2);
    let mut dots = 0;
    for dot in doc
        .descendants()
        .filter(|n| n.attribute("data-series").is_some())
    {
        let series = dot.attribute("data-series").unwrap();
        let epoch: usize = attr(&dot, "data-epoch");
        let column = columns.iter().find(|(s, _)| *s == series).unwrap().1;
        let expected: f32 = rows[epoch - 1][column].parse().unwrap();
        let value: f32 = attr(&dot, "data-value");
        // The CSV keeps 6 decimals.
        assert!(
            (value - expected).abs() <= 6e-7,
            "{series} at epoch {epoch}: {value} vs {expected}"
        );
        let area = &areas[usize::from(series.starts_with("accuracy"))];
        let (top, bottom): (f64, f64) = (attr(area, "data-top"), attr(area, "data-bottom"));
        let (ymin, ymax): (f64, f64) = (attr(area, "data-ymin"), attr(area, "data-ymax"));
        let cy: f64 = attr(&dot, "cy");
        let read = ymin + (bottom - cy) / (bottom - top) * (ymax - ymin);
        assert!(
            (read - expected as f64).abs() <= (ymax - ymin) / (bottom - top),
            "{series} {epoch}: drawn at {read}, value {expected}"
        );
        dots += 1;
    }
    assert_eq!(dots, 12);

    // The heat map is `evaluate --confusion`'s table, cell for cell, and shows each count.
    let printed = ok(convlab(&[
        "evaluate",
        "--model",
        path(checkpoint),
        "--split",
        "test",
        "--confusion",
    ]));
    let mut lines = printed.lines();
    let summary = lines.next().unwrap();
    let table: Vec<Vec<usize>> = lines
        .skip(1)
        .map(|l| {
            l.split_whitespace()
                .rev()
                .take(10)
                .map(|n| n.parse().unwrap())
                .collect::<Vec<usize>>()
                .into_iter()
                .rev()
                .collect()
        })
        .collect();
    assert_eq!(table.len(), 10, "{printed}");
    let cells = heat_map(&doc);
    assert_eq!(cells.len(), 100);
    for (t, row) in table.iter().enumerate() {
        for (p, &count) in row.iter().enumerate() {
            assert_eq!(cells[&(t, p)], count, "cell ({t}, {p})");
        }
    }
    for cell in by_class(&doc, "cell") {
        let text = cell
            .next_siblings()
            .find(|n| n.tag_name().name() == "text")
            .unwrap();
        assert_eq!(text.text().unwrap(), cell.attribute("data-count").unwrap());
    }
    // The same loss and accuracy as `evaluate` prints ("Test (10000 images): loss L - accuracy A").
    let loss = summary
        .split("loss ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    let accuracy = summary.split("accuracy ").nth(1).unwrap().trim();
    assert!(
        html.contains(&format!("loss {loss}, accuracy {accuracy}.")),
        "{summary}"
    );

    // Every probe's and mistake's probabilities are `predict --csv`'s for that image.
    let mut checked = 0;
    for node in by_class(&doc, "probe")
        .into_iter()
        .chain(by_class(&doc, "mistake"))
    {
        let index: usize = attr(
            &node,
            if node.has_attribute("data-image") {
                "data-image"
            } else {
                "data-index"
            },
        );
        let line = ok(convlab(&[
            "predict",
            "--model",
            path(checkpoint),
            "--index",
            &index.to_string(),
            "--csv",
        ]));
        let row: Vec<&str> = line.lines().nth(1).unwrap().split(',').collect();
        let (label, predicted): (usize, usize) = (row[1].parse().unwrap(), row[2].parse().unwrap());
        let expected: Vec<f32> = row[3..].iter().map(|v| v.parse().unwrap()).collect();
        for bar in node.descendants().filter(|n| n.has_attribute("data-p")) {
            let class: usize = attr(&bar, "data-class");
            let p: f32 = attr(&bar, "data-p");
            assert!(
                (p - expected[class]).abs() <= 1e-6,
                "image {index} class {class}"
            );
            assert_eq!(
                bar.attribute("class").unwrap().contains("truth"),
                class == label
            );
        }
        if node.has_attribute("data-index") {
            assert_eq!(attr::<usize>(&node, "data-label"), label);
            assert_eq!(attr::<usize>(&node, "data-predicted"), predicted);
            assert_ne!(label, predicted, "a mistake is a mistake");
        }
        checked += 1;
    }
    assert_eq!(
        checked,
        10 + 12,
        "10 probes (one per class) and 12 mistakes"
    );
}

#[test]
fn the_report_command_describes_the_checkpoint_as_train_last_did() {
    let checkpoint = run();
    let dir = scratch("command");
    let out = dir.join("again.html");
    ok(convlab(&[
        "report",
        "--model",
        path(checkpoint),
        "--out",
        path(&out),
    ]));
    let again = std::fs::read_to_string(&out).unwrap();
    let trained = std::fs::read_to_string(checkpoint.with_file_name("m.report.html")).unwrap();
    // train's last report describes the restored best weights, which the checkpoint holds.
    assert_eq!(heat_map(&parse(&again)), heat_map(&parse(&trained)));
    // The backup beside the checkpoint gave the settings and the history.
    assert!(again.contains("<th>batch_size</th><td>32</td>"));
    assert_eq!(
        parse(&again)
            .descendants()
            .filter(|n| n.has_attribute("data-epoch") && n.tag_name().name() == "tr")
            .count(),
        3
    );

    // Without a backup the page still shows the model and says what is missing.
    let alone = dir.join("alone.safetensors");
    std::fs::copy(checkpoint, &alone).unwrap();
    ok(convlab(&["report", "--model", path(&alone)]));
    let page = std::fs::read_to_string(dir.join("alone.report.html")).unwrap();
    assert!(page.contains("No training history: there is no backup"));
    assert_eq!(heat_map(&parse(&page)).len(), 100);

    // Refused, naming the argument: the checkpoint as the output, a model file, a backup of
    // another model, a directory that does not exist.
    let refused = |args: &[&str], needle: &str| {
        let o = convlab(args);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(needle), "expected {needle:?} in {err}");
        assert!(!err.contains("panicked"), "{err}");
    };
    refused(
        &["report", "--model", path(&alone), "--out", path(&alone)],
        "is the --model file itself",
    );
    let toml = dir.join("m.toml");
    std::fs::write(
        &toml,
        "input_shape = [28, 28, 1]\n[[layers]]\ntype = \"Flatten\"\n",
    )
    .unwrap();
    refused(&["report", "--model", path(&toml)], "this is a model file");
    let other = dir.join("other.safetensors");
    ok(convlab(&[
        "train",
        "--model",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/lenet5.toml"),
        "--epochs",
        "1",
        "--limit",
        "64",
        "--checkpoint",
        path(&other),
    ]));
    refused(
        &[
            "report",
            "--model",
            path(&alone),
            "--backup",
            path(&other.with_file_name("other.backup.safetensors")),
        ],
        "is the backup of another model",
    );
    refused(
        &[
            "report",
            "--model",
            path(&alone),
            "--out",
            path(&dir.join("no/such.html")),
        ],
        "does not exist",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn any_model_gets_a_report_with_what_it_has() {
    let dir = scratch("models");
    let train = |model: &str| -> String {
        let checkpoint = dir.join(format!("{model}.safetensors"));
        let file = format!("{}/../../models/{model}.toml", env!("CARGO_MANIFEST_DIR"));
        ok(convlab(&[
            "train",
            "--model",
            &file,
            "--epochs",
            "1",
            "--limit",
            "64",
            "--checkpoint",
            path(&checkpoint),
        ]));
        std::fs::read_to_string(dir.join(format!("{model}.report.html"))).unwrap()
    };
    // LeNet-5: average pooling and valid convolutions; a feature-map grid for each of its four
    // spatial layers, its first layer's 6 filters.
    let lenet = train("lenet5");
    let doc = parse(&lenet);
    let grids = by_class(&doc, "fmap");
    assert_eq!(grids.len(), 10 * 4);
    let layers: Vec<&str> = grids[..4]
        .iter()
        .map(|g| g.attribute("data-layer").unwrap())
        .collect();
    assert_eq!(
        layers,
        [
            "conv2d",
            "average_pooling2d",
            "conv2d_1",
            "average_pooling2d_1"
        ]
    );
    assert!(lenet.contains("its 6 filters of 5x5 on input channel 0 of 1."));
    // A perceptron: no filters and no feature maps, but probabilities for every probe.
    let mlp = train("mlp");
    let doc = parse(&mlp);
    assert!(mlp.contains("The model has no Conv2D layer."));
    assert!(by_class(&doc, "fmap").is_empty());
    assert_eq!(by_class(&doc, "probe").len(), 10);
    assert_eq!(heat_map(&doc).values().sum::<usize>(), 10_000);
    // --no-report writes none.
    let quiet = dir.join("quiet.safetensors");
    ok(convlab(&[
        "train",
        "--epochs",
        "1",
        "--limit",
        "64",
        "--no-report",
        "--checkpoint",
        path(&quiet),
    ]));
    assert!(quiet.exists() && !dir.join("quiet.report.html").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The browser, or None (then the browser test is skipped, unless CI requires it).
fn chromium() -> Option<PathBuf> {
    let candidate = std::env::var_os("CONVLAB_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if candidate.is_file() {
        return Some(candidate);
    }
    assert!(
        std::env::var_os("CONVLAB_REQUIRE_BROWSER").is_none(),
        "CONVLAB_REQUIRE_BROWSER is set but there is no browser at {}",
        candidate.display()
    );
    eprintln!(
        "skipping the browser test: no Chromium at {} (apt-get install chromium)",
        candidate.display()
    );
    None
}

/// Runs headless Chromium on `page` with `args`; returns (stdout, the page's console lines).
fn headless(browser: &Path, page: &str, args: &[&str]) -> (String, Vec<String>) {
    let profile = scratch("profile");
    let o = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            &format!("--user-data-dir={}", profile.display()),
        ])
        .args(args)
        .arg(page)
        .output()
        .expect("run chromium");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "chromium failed: {err}");
    let console = err
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(|l| l.split("] ").nth(1).unwrap_or(l).to_string())
        .collect();
    let _ = std::fs::remove_dir_all(&profile);
    (String::from_utf8_lossy(&o.stdout).into_owned(), console)
}

/// Decodes a screenshot; returns (width, height, distinct colours, share of pixels that are not
/// the page's background).
fn screenshot_stats(png_path: &Path) -> (u32, u32, usize, f64) {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png_path).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(channels).collect();
    let colours: std::collections::HashSet<[u8; 3]> =
        pixels.iter().map(|p| [p[0], p[1], p[2]]).collect();
    let background = [0xfa, 0xfa, 0xfa];
    let other = pixels.iter().filter(|p| p[..3] != background).count();
    (
        info.width,
        info.height,
        colours.len(),
        other as f64 / pixels.len() as f64,
    )
}

/// Drives the page's script as a person would (hover a cell, a point, a map; click a thumbnail)
/// and logs what the read-out says, for the test to read from the console.
const HARNESS: &str = r#"<script>
window.addEventListener('load', function () {
  var readout = document.getElementById('readout');
  function say(what) { console.log('harness ' + what + ': ' + readout.textContent); }
  var cell = document.querySelector('rect.cell[data-true="3"][data-pred="3"]');
  cell.dispatchEvent(new MouseEvent('mouseover', { bubbles: true }));
  say('cell ' + cell.getAttribute('data-count'));
  var dot = document.querySelector('circle[data-series="loss val"][data-epoch="2"]');
  dot.dispatchEvent(new MouseEvent('mouseover', { bubbles: true }));
  say('dot');
  var button = document.querySelectorAll('.pick button')[2];
  button.click();
  var shown = Array.prototype.filter.call(document.querySelectorAll('.probe'), function (p) {
    return p.offsetParent !== null;
  }).map(function (p) { return p.getAttribute('data-image'); });
  console.log('harness picked ' + button.getAttribute('data-image') + ', shown ' + shown.join(' '));
  var img = document.querySelector('.probe.selected img.fmap');
  var box = img.getBoundingClientRect();
  // The middle of the second map of the first row.
  var zoom = box.width / img.naturalWidth;
  var cell = Number(img.getAttribute('data-map-w')) * Number(img.getAttribute('data-scale')) + 1;
  img.dispatchEvent(new MouseEvent('mousemove', {
    bubbles: true,
    clientX: box.left + (1 + cell + cell / 2) * zoom,
    clientY: box.top + (1 + cell / 2) * zoom
  }));
  say('map');
});
</script>
</body>"#;

#[test]
fn the_report_renders_in_a_real_browser_with_and_without_its_script() {
    let checkpoint = run();
    let Some(browser) = chromium() else { return };
    let dir = scratch("browser");
    let report = checkpoint.with_file_name("m.report.html");
    let url = format!("file://{}", report.display());

    // A screenshot that is not blank: many colours, a good part of it drawn.
    let shot = dir.join("shot.png");
    headless(
        &browser,
        &url,
        &[
            "--window-size=1280,2400",
            &format!("--screenshot={}", shot.display()),
        ],
    );
    let (w, h, colours, drawn) = screenshot_stats(&shot);
    assert_eq!((w, h), (1280, 2400));
    assert!(
        colours > 500 && drawn > 0.2,
        "{colours} colours, {drawn} drawn"
    );

    // The DOM after the script ran: every section, the script ready, one probe selected, and
    // the console saying nothing but the script's own line.
    let (dom, console) = headless(&browser, &url, &["--dump-dom"]);
    for id in [
        "model",
        "run",
        "curves",
        "confusion",
        "mistakes",
        "weights",
        "filters",
        "probes",
    ] {
        assert!(
            dom.contains(&format!("<section id=\"{id}\">")),
            "no section {id}"
        );
    }
    assert!(
        dom.contains("data-script=\"ready\""),
        "the script did not finish"
    );
    assert!(!dom.contains("data-script-errors=\""), "script errors");
    assert_eq!(console.len(), 1, "{console:?}");
    assert!(
        console[0].contains("convlab report: script ready, 10 probe images"),
        "{console:?}"
    );

    // The script at work, driven by the harness.
    let driven = dir.join("driven.html");
    let html = std::fs::read_to_string(&report).unwrap();
    std::fs::write(&driven, html.replace("</body>", HARNESS)).unwrap();
    let (_, console) = headless(
        &browser,
        &format!("file://{}", driven.display()),
        &["--dump-dom", "--window-size=1280,2400"],
    );
    let said = |what: &str| -> String {
        console
            .iter()
            .find(|l| l.contains(&format!("harness {what}")))
            .unwrap_or_else(|| panic!("no {what:?} in {console:?}"))
            .clone()
    };
    assert!(
        said("cell").contains(": true Dress, predicted Dress: "),
        "{console:?}"
    );
    let count = said("cell")
        .split("harness cell ")
        .nth(1)
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .to_string();
    assert!(
        said("cell").contains(&format!("Dress: {count} of ")),
        "{console:?}"
    );
    assert!(said("dot").contains("epoch 2: loss val "), "{console:?}");
    let picked = said("picked");
    let image = picked
        .split("picked ")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap();
    assert!(picked.contains(&format!("shown {image}\"")), "{picked}");
    assert!(
        said("map").contains("conv2d: map 1 of 32, pixel ("),
        "{console:?}"
    );
    assert!(
        !console.iter().any(|l| l.contains("Uncaught")),
        "{console:?}"
    );

    // Without JavaScript everything static shows: the page with its script taken out (headless
    // Chromium takes no screenshot with scripts disabled) still draws every section.
    let start = html.find("<script>").unwrap();
    let end = html[start..].find("</script>").unwrap() + start + "</script>".len();
    let plain = dir.join("plain.html");
    std::fs::write(&plain, format!("{}{}", &html[..start], &html[end..])).unwrap();
    let plain_url = format!("file://{}", plain.display());
    let (dom, console) = headless(&browser, &plain_url, &["--dump-dom"]);
    assert!(console.is_empty(), "{console:?}");
    assert!(!dom.contains("class=\"js\""));
    for id in ["confusion", "probes"] {
        assert!(
            dom.contains(&format!("<section id=\"{id}\">")),
            "no section {id}"
        );
    }
    let shot = dir.join("plain.png");
    headless(
        &browser,
        &plain_url,
        &[
            "--window-size=1280,2400",
            &format!("--screenshot={}", shot.display()),
        ],
    );
    let (_, _, colours, drawn) = screenshot_stats(&shot);
    assert!(
        colours > 500 && drawn > 0.2,
        "{colours} colours, {drawn} drawn"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
