//! ONNX export: a trained `Sequential` as an ONNX graph (opset 13), for ONNX Runtime, Netron,
//! and the frameworks that import ONNX.
//!
//! The graph's one input, `input`, is what convlab's own layers read: NHWC float32 images
//! scaled to 0..1, shape `[batch, H, W, C]` with a symbolic batch. Its first node transposes them
//! to NCHW, the layout ONNX's Conv and pooling take; a Flatten transposes back to NHWC first, so
//! a Dense layer's kernel keeps convlab's (and Keras's) row order. The output is `probabilities`
//! when the model ends in a softmax, else `output`, with convlab's shape.
//!
//! Layer by layer:
//! - Conv2D: `Conv` with the kernel as OIHW and explicit `pads` [top, left, bottom, right] by
//!   TensorFlow's `same` rule (the extra row and column at the bottom and right, as at stride 2
//!   on an even size), then its activation;
//! - MaxPooling2D: `MaxPool` (padded cells never win); AveragePooling2D: `AveragePool` with
//!   `count_include_pad = 0`, as convlab does not count padded cells;
//! - Flatten: `Transpose` to NHWC, `Flatten`;
//! - Dense: `Gemm` (`MatMul` without a bias), then its activation;
//! - Dropout: nothing (it is the identity at inference);
//! - activations: `Relu`, `Sigmoid`, `Tanh`, `Softmax` (over channels).
//!
//! The protocol buffer is written by hand (`crate::proto`) from the official `onnx.proto`'s field
//! numbers. `crates/cli/tests/onnx/check.py` runs `onnx.checker` and ONNX Runtime on the files.

use convlab_tensor::{Conv2dGeometry, Pool2dGeometry};

use crate::activation::Activation;
use crate::layers::Layer;
use crate::proto::Message;
use crate::LayerEntry;
use crate::Sequential;

/// The operator set the graph uses: the first with `Softmax` over one axis.
pub const OPSET: i64 = 13;
/// The IR version that goes with opset 13.
const IR_VERSION: i64 = 7;

/// ONNX's element type for float32 (`TensorProto.DataType.FLOAT`).
const FLOAT: i64 = 1;

/// Why a model cannot be exported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("layer {index} ({name}, {kind}): {reason}")]
pub struct ExportError {
    pub index: usize,
    pub name: String,
    pub kind: &'static str,
    pub reason: String,
}

/// The ONNX model's bytes, ready to write as `model.onnx`.
pub fn to_onnx(model: &Sequential) -> Result<Vec<u8>, ExportError> {
    let mut graph = Graph::default();
    let mut value = "input".to_string();
    let input = model.input_shape();
    // The layout the running value is in: images NCHW once transposed, anything else as is.
    let mut nchw = false;
    if input.len() == 3 {
        value = graph.node("Transpose", &[&value], "input_nchw", |a| {
            a.ints("perm", &[0, 3, 1, 2]);
        });
        nchw = true;
    }
    for (index, entry) in model.layers().iter().enumerate() {
        let fail = |reason: String| ExportError {
            index,
            name: entry.name.clone(),
            kind: entry.layer.kind(),
            reason,
        };
        let out = entry.name.clone();
        value = match &entry.layer {
            Layer::Conv2D(conv) => {
                let g = conv_geometry(entry).map_err(fail)?;
                let kernel = entry.weight("kernel").expect("a Conv2D has a kernel");
                let w = graph.initializer(
                    &format!("{}/kernel", entry.name),
                    &[g.co, g.c, g.kh, g.kw],
                    oihw(kernel.data(), &g),
                );
                let mut inputs = vec![value.as_str(), w.as_str()];
                let b;
                if let Some(bias) = entry.weight("bias") {
                    b = graph.initializer(
                        &format!("{}/bias", entry.name),
                        &[g.co],
                        bias.data().to_vec(),
                    );
                    inputs.push(&b);
                }
                let pads = pads(
                    g.h, g.kh, g.sh, g.ho, g.pad_top, g.w, g.kw, g.sw, g.wo, g.pad_left,
                );
                let y = graph.node("Conv", &inputs, &out, |a| {
                    a.ints("kernel_shape", &[g.kh as i64, g.kw as i64]);
                    a.ints("strides", &[g.sh as i64, g.sw as i64]);
                    a.ints("pads", &pads);
                });
                graph.activation(conv.activation, &y, 1)
            }
            Layer::MaxPooling2D(_) | Layer::AveragePooling2D(_) => {
                let g = pool_geometry(entry).map_err(fail)?;
                let pads = pads(
                    g.h, g.ph, g.sh, g.ho, g.pad_top, g.w, g.pw, g.sw, g.wo, g.pad_left,
                );
                let max = matches!(entry.layer, Layer::MaxPooling2D(_));
                graph.node(
                    if max { "MaxPool" } else { "AveragePool" },
                    &[&value],
                    &out,
                    |a| {
                        a.ints("kernel_shape", &[g.ph as i64, g.pw as i64]);
                        a.ints("strides", &[g.sh as i64, g.sw as i64]);
                        a.ints("pads", &pads);
                        if !max {
                            a.int("count_include_pad", 0);
                        }
                    },
                )
            }
            Layer::Flatten(_) => {
                if nchw {
                    value = graph.node("Transpose", &[&value], &format!("{out}_nhwc"), |a| {
                        a.ints("perm", &[0, 2, 3, 1]);
                    });
                    nchw = false;
                }
                graph.node("Flatten", &[&value], &out, |a| {
                    a.int("axis", 1);
                })
            }
            Layer::Dense(dense) => {
                let &[units_in] = entry.input_shape.as_slice() else {
                    return Err(fail(format!(
                        "a Dense layer on a {}-d input",
                        entry.input_shape.len()
                    )));
                };
                let kernel = entry.weight("kernel").expect("a Dense layer has a kernel");
                let w = graph.initializer(
                    &format!("{}/kernel", entry.name),
                    &[units_in, dense.units],
                    kernel.data().to_vec(),
                );
                let y = match entry.weight("bias") {
                    Some(bias) => {
                        let b = graph.initializer(
                            &format!("{}/bias", entry.name),
                            &[dense.units],
                            bias.data().to_vec(),
                        );
                        graph.node("Gemm", &[&value, &w, &b], &out, |_| {})
                    }
                    None => graph.node("MatMul", &[&value, &w], &out, |_| {}),
                };
                graph.activation(dense.activation, &y, 1)
            }
            Layer::Dropout(_) => value,
        };
    }
    if nchw {
        value = graph.node("Transpose", &[&value], "output_nhwc", |a| {
            a.ints("perm", &[0, 2, 3, 1]);
        });
    }
    let ends_in_softmax = model
        .layers()
        .last()
        .is_some_and(|l| l.layer.activation() == Activation::Softmax);
    let output = if ends_in_softmax {
        "probabilities"
    } else {
        "output"
    };
    graph.node("Identity", &[&value], output, |_| {});
    Ok(graph.finish(model, output))
}

fn conv_geometry(entry: &LayerEntry) -> Result<Conv2dGeometry, String> {
    let Layer::Conv2D(conv) = &entry.layer else {
        unreachable!("called for Conv2D layers")
    };
    let &[h, w, c] = entry.input_shape.as_slice() else {
        return Err(format!("a Conv2D on a {}-d input", entry.input_shape.len()));
    };
    Conv2dGeometry::new(
        &[1, h, w, c],
        &[conv.kernel_size.0, conv.kernel_size.1, c, conv.filters],
        (conv.strides.0, conv.strides.1),
        conv.padding,
    )
    .map_err(|e| e.to_string())
}

fn pool_geometry(entry: &LayerEntry) -> Result<Pool2dGeometry, String> {
    let (pool_size, strides, padding) = match &entry.layer {
        Layer::MaxPooling2D(p) => (p.pool_size, p.strides, p.padding),
        Layer::AveragePooling2D(p) => (p.pool_size, p.strides, p.padding),
        _ => unreachable!("called for pooling layers"),
    };
    let &[h, w, c] = entry.input_shape.as_slice() else {
        return Err(format!("pooling a {}-d input", entry.input_shape.len()));
    };
    let strides = strides.unwrap_or(pool_size);
    Pool2dGeometry::new(
        &[1, h, w, c],
        (pool_size.0, pool_size.1),
        (strides.0, strides.1),
        padding,
    )
    .map_err(|e| e.to_string())
}

/// ONNX's [top, left, bottom, right]: the padding before is convlab's; the padding after is
/// whatever the last window needs beyond the input (none under `valid`).
#[allow(clippy::too_many_arguments)]
fn pads(
    h: usize,
    kh: usize,
    sh: usize,
    ho: usize,
    top: usize,
    w: usize,
    kw: usize,
    sw: usize,
    wo: usize,
    left: usize,
) -> [i64; 4] {
    let after = |input: usize, k: usize, s: usize, out: usize, before: usize| {
        ((out - 1) * s + k).saturating_sub(input + before) as i64
    };
    [
        top as i64,
        left as i64,
        after(h, kh, sh, ho, top),
        after(w, kw, sw, wo, left),
    ]
}

/// A kernel (KH, KW, C, CO) as ONNX's (CO, C, KH, KW).
fn oihw(kernel: &[f32], g: &Conv2dGeometry) -> Vec<f32> {
    let mut out = vec![0.0; kernel.len()];
    for ky in 0..g.kh {
        for kx in 0..g.kw {
            for c in 0..g.c {
                for o in 0..g.co {
                    out[((o * g.c + c) * g.kh + ky) * g.kw + kx] =
                        kernel[((ky * g.kw + kx) * g.c + c) * g.co + o];
                }
            }
        }
    }
    out
}

/// A graph being built: nodes in order and the weights they read.
#[derive(Default)]
struct Graph {
    nodes: Vec<Message>,
    initializers: Vec<Message>,
}

/// A node's attributes being written.
struct Attributes<'a>(&'a mut Message);

impl Attributes<'_> {
    fn ints(&mut self, name: &str, values: &[i64]) {
        let mut a = Message::new();
        a.string(1, name).int(20, 7).ints(8, values); // type INTS
        self.0.message(5, &a);
    }

    fn int(&mut self, name: &str, value: i64) {
        let mut a = Message::new();
        a.string(1, name).int(20, 2).int(3, value); // type INT
        self.0.message(5, &a);
    }
}

impl Graph {
    /// Adds a node reading `inputs` and writing `output`; returns the output's name.
    fn node(
        &mut self,
        op: &str,
        inputs: &[&str],
        output: &str,
        attributes: impl FnOnce(&mut Attributes),
    ) -> String {
        let mut node = Message::new();
        for input in inputs {
            node.string(1, input);
        }
        node.string(2, output)
            .string(3, &format!("{output}/{op}"))
            .string(4, op);
        attributes(&mut Attributes(&mut node));
        self.nodes.push(node);
        output.to_string()
    }

    /// The activation after a layer (`axis` is the channels' in the running layout).
    fn activation(&mut self, activation: Activation, value: &str, axis: i64) -> String {
        let op = match activation {
            Activation::Linear => return value.to_string(),
            Activation::Relu => "Relu",
            Activation::Sigmoid => "Sigmoid",
            Activation::Tanh => "Tanh",
            Activation::Softmax => "Softmax",
        };
        let output = format!("{value}_{}", op.to_lowercase());
        self.node(op, &[value], &output, |a| {
            if activation == Activation::Softmax {
                a.int("axis", axis);
            }
        })
    }

    /// A float32 weight stored in the file (raw little-endian bytes).
    fn initializer(&mut self, name: &str, dims: &[usize], values: Vec<f32>) -> String {
        let mut t = Message::new();
        let dims: Vec<i64> = dims.iter().map(|&d| d as i64).collect();
        let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        t.ints(1, &dims)
            .int(2, FLOAT)
            .string(8, name)
            .bytes(9, &raw);
        self.initializers.push(t);
        name.to_string()
    }

    fn finish(self, model: &Sequential, output: &str) -> Vec<u8> {
        let mut graph = Message::new();
        for node in &self.nodes {
            graph.message(1, node);
        }
        graph.string(2, &model.name);
        for init in &self.initializers {
            graph.message(5, init);
        }
        graph.message(11, &value_info("input", model.input_shape()));
        graph.message(12, &value_info(output, model.output_shape()));
        let mut opset = Message::new();
        opset.string(1, "").int(2, OPSET);
        let mut m = Message::new();
        m.int(1, IR_VERSION)
            .string(2, "convlab")
            .string(3, env!("CARGO_PKG_VERSION"))
            .message(7, &graph)
            .message(8, &opset);
        m.into_bytes()
    }
}

/// A float32 tensor of `shape` behind a symbolic batch axis.
fn value_info(name: &str, shape: &[usize]) -> Message {
    let mut dims = Message::new();
    let mut batch = Message::new();
    batch.string(2, "batch");
    dims.message(1, &batch);
    for &d in shape {
        let mut dim = Message::new();
        dim.int(1, d as i64);
        dims.message(1, &dim);
    }
    let mut tensor = Message::new();
    tensor.int(1, FLOAT).message(2, &dims);
    let mut ty = Message::new();
    ty.message(1, &tensor);
    let mut info = Message::new();
    info.string(1, name).message(2, &ty);
    info
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::read::{fields, Field};
    use crate::{chapter_model, ConvAlgorithm};

    fn strings(bytes: &[u8], field: u32) -> Vec<String> {
        fields(bytes)
            .into_iter()
            .filter(|(f, _)| *f == field)
            .map(|(_, v)| match v {
                Field::Bytes(b) => String::from_utf8(b).unwrap(),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    fn messages(bytes: &[u8], field: u32) -> Vec<Vec<u8>> {
        fields(bytes)
            .into_iter()
            .filter(|(f, _)| *f == field)
            .map(|(_, v)| match v {
                Field::Bytes(b) => b,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn the_chapter_model_is_the_graph_the_docs_describe() {
        let model = chapter_model(1, ConvAlgorithm::Auto);
        let bytes = to_onnx(&model).unwrap();
        let graph = &messages(&bytes, 7)[0];
        let ops: Vec<String> = messages(graph, 1)
            .iter()
            .map(|n| strings(n, 4)[0].clone())
            .collect();
        assert_eq!(
            ops,
            [
                "Transpose",
                "Conv",
                "Relu",
                "MaxPool",
                "Conv",
                "Relu",
                "MaxPool",
                "Transpose",
                "Flatten",
                "Gemm",
                "Relu",
                "Gemm",
                "Softmax",
                "Identity"
            ]
        );
        // Every weight, once, under the checkpoint's names; 333,526 floats in all.
        let inits = messages(graph, 5);
        let names: Vec<String> = inits.iter().map(|t| strings(t, 8)[0].clone()).collect();
        assert_eq!(
            names,
            [
                "conv2d/kernel",
                "conv2d/bias",
                "conv2d_1/kernel",
                "conv2d_1/bias",
                "dense/kernel",
                "dense/bias",
                "dense_1/kernel",
                "dense_1/bias"
            ]
        );
        let floats: usize = inits.iter().map(|t| messages(t, 9)[0].len() / 4).sum();
        assert_eq!(floats, 333_526);
        assert_eq!(strings(&messages(graph, 12)[0], 1), ["probabilities"]);
    }

    #[test]
    fn same_padding_is_asymmetric_where_tensorflow_pads_more_after() {
        // 28 at stride 2 with a 3-wide window: 14 outputs need 29 rows, one more than the
        // input; TensorFlow puts it after (0 before, 1 after).
        assert_eq!(pads(28, 3, 2, 14, 0, 28, 3, 2, 14, 0), [0, 0, 1, 1]);
        // Stride 1, 3x3, same: one each side.
        assert_eq!(pads(28, 3, 1, 28, 1, 28, 3, 1, 28, 1), [1, 1, 1, 1]);
        // Valid at stride 2 on an odd remainder: nothing after (the last row is dropped).
        assert_eq!(pads(7, 3, 2, 3, 0, 7, 3, 2, 3, 0), [0, 0, 0, 0]);
    }

    #[test]
    fn kernels_become_oihw() {
        let g = Conv2dGeometry::new(&[1, 4, 4, 2], &[2, 3, 2, 5], (1, 1), crate::Padding::Valid)
            .unwrap();
        let kernel: Vec<f32> = (0..60).map(|v| v as f32).collect();
        let out = oihw(&kernel, &g);
        // w[ky=1, kx=2, c=1, o=4] sits at ((1*3 + 2)*2 + 1)*5 + 4 = 59 in HWIO and at
        // ((4*2 + 1)*2 + 1)*3 + 2 = 59 in OIHW too by chance; check another.
        // w[ky=0, kx=1, c=0, o=3]: HWIO (1*2 + 0)*5 + 3 = 13; OIHW ((3*2 + 0)*2 + 0)*3 + 1 = 37.
        assert_eq!(out[37], 13.0);
        assert_eq!(out[59], 59.0);
    }
}
