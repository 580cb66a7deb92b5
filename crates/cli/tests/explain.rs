//! `convlab explain`: the chapter's 8-1 examples worked out, checked against numbers computed
//! here by hand, with bad input refused and the figure checked against the numbers it shows.

use std::process::{Command, Output};

fn convlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_convlab"))
        .args(args)
        .output()
        .expect("run convlab")
}

fn ok(args: &[&str]) -> String {
    let o = convlab(args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[track_caller]
fn refused(args: &[&str], needle: &str) {
    let o = convlab(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert!(
        err.contains(needle) && !err.contains("panicked"),
        "{args:?}: {err}"
    );
}

#[test]
fn the_chapters_examples_by_default() {
    // Ten features, a kernel of three weights: eight outputs, 1*0.1 + 2*0.2 + 3*0.3 = 1.4 first.
    let out = ok(&["explain", "conv1d"]);
    assert!(
        out.contains("10 features, a kernel of 3 weights") && out.contains(": 8 outputs"),
        "{out}"
    );
    assert!(out.contains("y[0] = 1*0.1 + 2*0.2 + 3*0.3 = 1.4"), "{out}");
    assert!(out.contains("y[7] = 8*0.1 + 9*0.2 + 10*0.3 = 5.6"), "{out}");
    assert!(out.contains("agree"), "{out}");
    // 4x4 with a 3x3 kernel and same padding stays 4x4; the corner sees 1 + 6 (kernel 1,0,1;..).
    let out = ok(&["explain", "conv"]);
    assert!(out.contains("a 4x4 feature map"), "{out}");
    assert!(
        out.contains("y[0,0] = 1*1 + 2*0 + 5*0 + 6*1 = 7   (5 taps in the padding add 0)"),
        "{out}"
    );
    assert!(
        out.contains("y[1,1] = 1*1 + 2*0 + 3*1 + 5*0 + 6*1 + 7*0 + 9*1 + 10*0 + 11*1 = 30"),
        "{out}"
    );
    // Stride 2 halves it.
    let out = ok(&["explain", "conv", "--stride", "2"]);
    assert!(out.contains("a 2x2 feature map"), "{out}");
    // 2x2 max pooling of a 4x4 map: each window's winner.
    let out = ok(&["explain", "pool"]);
    assert!(
        out.contains("y[0,0] = max(1, 3, 5, 6) = 6, the cell at row 1, column 1 wins"),
        "{out}"
    );
    assert!(out.contains("y[1,1] = max(9, 8, 6, 5) = 9"), "{out}");
    let out = ok(&["explain", "pool", "--kind", "average", "--at", "0,0"]);
    assert!(out.contains("y[0,0] = (1 + 3 + 5 + 6) / 4 = 3.75"), "{out}");
}

#[test]
fn im2col_and_winograd_show_their_matrices() {
    let out = ok(&["explain", "im2col"]);
    // Window (1,1) of the padded 1..16 input is the full neighbourhood of 6.
    assert!(
        out.contains("(1,1)      1    2    3    5    6    7    9   10   11"),
        "{out}"
    );
    assert_eq!(out.matches("agree exactly").count(), 2, "{out}");
    let out = ok(&["explain", "winograd"]);
    assert!(
        out.contains("16 for these 4 outputs; the direct way needs 4 x 9 = 36"),
        "{out}"
    );
    assert_eq!(
        out.lines().filter(|l| l.starts_with("  m[")).count(),
        16,
        "{out}"
    );
    assert_eq!(out.matches("agree").count(), 2, "{out}");
    // Its own tile and kernel, from the command line.
    let out = ok(&[
        "explain",
        "winograd",
        "--input",
        "1,0,0,0;0,0,0,0;0,0,0,0;0,0,0,1",
        "--kernel",
        "1,1,1;1,1,1;1,1,1",
    ]);
    assert!(out.contains("Y = Aᵀ M A"), "{out}");
}

#[test]
fn inputs_from_the_command_line_or_a_seed() {
    let out = ok(&[
        "explain",
        "conv",
        "--input",
        "1,2,3;4,5,6;7,8,9",
        "--kernel",
        "1",
        "--padding",
        "valid",
    ]);
    assert!(
        out.contains("a 3x3 feature map") && out.contains("y[2,2] = 9*1 = 9"),
        "{out}"
    );
    let a = ok(&["explain", "conv", "--seed", "3"]);
    assert_eq!(a, ok(&["explain", "conv", "--seed", "3"]));
    assert_ne!(a, ok(&["explain", "conv", "--seed", "4"]));
}

#[test]
fn bad_input_is_a_clear_error() {
    refused(
        &["explain", "conv", "--input", "1,2,3;4,5"],
        "row 2 has 2 values but row 1 has 3",
    );
    refused(
        &["explain", "conv", "--input", "1,x"],
        "\"x\" at row 1, column 2 is not a number",
    );
    refused(
        &["explain", "conv", "--stride", "0"],
        "--stride must be from 1 to 8, got 0",
    );
    refused(
        &[
            "explain",
            "conv",
            "--input",
            "1,2;3,4",
            "--padding",
            "valid",
        ],
        "window 3 is larger than the input 2",
    );
    refused(
        &["explain", "conv", "--at", "4,0"],
        "--at 4,0 is out of range: the feature map is 4x4",
    );
    refused(
        &["explain", "pool", "--pool-size", "5"],
        "a 5x5 pool on a 4x4 map",
    );
    refused(
        &["explain", "winograd", "--input", "1,2;3,4"],
        "works on one 4x4 tile",
    );
    refused(
        &["explain", "conv1d", "--input", "1;2"],
        "one row of values",
    );
}

#[test]
fn the_figure_shows_the_numbers_it_explains() {
    let dir = std::env::temp_dir().join(format!("convlab-explain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svg = dir.join("conv.svg");
    let out = ok(&[
        "explain",
        "conv",
        "--at",
        "1,2",
        "--svg",
        svg.to_str().unwrap(),
    ]);
    assert!(
        out.contains("y[1,2] = 2*1 + 3*0 + 4*1 + 6*0 + 7*1 + 8*0 + 10*1 + 11*0 + 12*1 = 35"),
        "{out}"
    );
    let text = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("well-formed SVG");
    // The outlined output cell sits where the feature map's (1, 2) is drawn, and holds 35.
    let rects: Vec<_> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("window"))
        .collect();
    assert_eq!(
        rects.len(),
        2,
        "the window on the input and the cell on the output"
    );
    let cell = rects[1];
    let (x, y) = (
        cell.attribute("x").unwrap().parse::<f64>().unwrap(),
        cell.attribute("y").unwrap().parse::<f64>().unwrap(),
    );
    let inside = doc.descendants().find(|n| {
        n.tag_name().name() == "text"
            && n.attribute("x")
                .and_then(|v| v.parse::<f64>().ok())
                .is_some_and(|tx| tx > x && tx < x + 44.0)
            && n.attribute("y")
                .and_then(|v| v.parse::<f64>().ok())
                .is_some_and(|ty| ty > y && ty < y + 44.0)
    });
    assert_eq!(inside.and_then(|n| n.text()), Some("35"));
    // The input's window is 3x3 cells, starting at padded (1, 2).
    let window = rects[0];
    assert_eq!(window.attribute("width"), Some("132"));
    std::fs::remove_dir_all(&dir).unwrap();
}
