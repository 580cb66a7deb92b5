//! Model files: a network written down instead of coded, in convlab's TOML or in the JSON that
//! Keras's `model.to_json()` writes.
//!
//! ```
//! use convlab_nn::model_file::ModelFile;
//!
//! let file = ModelFile::parse("tiny.toml", r#"
//! input_shape = [28, 28, 1]
//!
//! [[layers]]
//! type = "Conv2D"
//! filters = 8
//! kernel_size = 3
//! activation = "relu"
//!
//! [[layers]]
//! type = "MaxPooling2D"
//!
//! [[layers]]
//! type = "Flatten"
//!
//! [[layers]]
//! type = "Dense"
//! units = 10
//! activation = "softmax"
//! "#)?;
//! let model = file.build(42)?;
//! assert_eq!(model.output_shape(), [10]);
//! # Ok::<(), convlab_nn::model_file::ModelFileError>(())
//! ```
//!
//! Layers and arguments are Keras's (`Conv2D`, `MaxPooling2D`, `AveragePooling2D`, `Flatten`,
//! `Dense`, `Dropout`; `filters`, `kernel_size`, `strides`, `padding`, `activation`, `use_bias`,
//! `kernel_initializer`, `bias_initializer`, `pool_size`, `units`, `rate`), with Keras's defaults;
//! Conv2D also takes convlab's `algorithm = "auto" | "im2col" | "direct" | "winograd" |
//! "reference"`. Everything else is an error naming the file, the line (TOML) and the layer:
//! unknown layers and arguments, values of the wrong type, shapes that cannot follow each other
//! (a 5x5 kernel on a 3x3 input under `valid`), weights too many to build.
//!
//! Read in this order: `value.rs` (the tree both formats become), `toml_reader.rs`,
//! `keras_json.rs`, `build_layer.rs` (the Keras arguments), then this file (shapes, building).

mod build_layer;
mod keras_json;
mod toml_reader;
mod value;

#[cfg(test)]
mod tests;

use std::fmt;
use std::io::Read;
use std::path::Path;

pub use build_layer::LAYER_TYPES;

use crate::layers::Layer;
use crate::{ModelConfig, Sequential};
use build_layer::{build_layer, Dialect};
use convlab_tensor::error::checked_product;
use value::{ModelSpec, Value};

/// A model file is text a person wrote; anything larger is not one (and is not read whole).
pub const MAX_FILE_BYTES: u64 = 4 << 20;

use crate::checkpoint::MAX_LAYERS;

/// At most 2^28 weights (1 GiB of f32; VGG-16 has 138 million): a file of a few bytes must not
/// make convlab allocate what the machine does not have.
pub const MAX_WEIGHTS: usize = 1 << 28;

/// At most 2^28 values (1 GiB of f32) in one image's input or any layer's output, for the same
/// reason.
pub const MAX_VALUES: usize = 1 << 28;

/// Which format a model file is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// convlab's TOML.
    Toml,
    /// Keras's `model.to_json()`.
    KerasJson,
}

/// What is wrong with a model file: the file, the line where it is known, the layer, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelFileError {
    pub file: String,
    pub line: Option<usize>,
    /// `layers[2] (Conv2D "conv2d_1")`, when one layer is at fault.
    pub layer: Option<String>,
    pub message: String,
}

impl fmt::Display for ModelFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": ")?;
        if let Some(layer) = &self.layer {
            write!(f, "{layer}: ")?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for ModelFileError {}

/// A model file read and checked: its architecture, and where each layer was written.
#[derive(Clone, Debug)]
pub struct ModelFile {
    /// The file as given, for messages.
    pub file: String,
    pub format: Format,
    /// The architecture (its seed is 0: `build` takes the seed).
    pub config: ModelConfig,
    /// The line each layer starts on (TOML), for messages about a layer.
    lines: Vec<Option<usize>>,
    /// The line of `input_shape` (TOML).
    input_line: Option<usize>,
    /// How many weights the model has (counted without building it).
    weights: usize,
    /// How each layer is named in messages: `layers[2] (Conv2D)`.
    labels: Vec<String>,
}

impl ModelFile {
    /// Reads a model file: TOML, or Keras JSON when the text starts with `{`.
    pub fn read(path: &Path) -> Result<ModelFile, ModelFileError> {
        let file = path.display().to_string();
        let fail = |message: String| ModelFileError {
            file: file.clone(),
            line: None,
            layer: None,
            message,
        };
        // Only a regular file: a FIFO would wait for a writer forever, a device never ends.
        let meta = std::fs::metadata(path).map_err(|e| fail(format!("cannot read it: {e}")))?;
        if !meta.is_file() {
            return Err(fail(
                "not a regular file (a directory, FIFO, device or socket)".into(),
            ));
        }
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
            .map_err(|e| fail(format!("cannot read it: {e}")))?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(fail(format!(
                "larger than {} MiB: not a model file",
                MAX_FILE_BYTES >> 20
            )));
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            fail(format!(
                "not UTF-8 text (a checkpoint? those are read with --model too, by commands that take one): {e}"
            ))
        })?;
        ModelFile::parse(&file, &text)
    }

    /// Parses model-file text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<ModelFile, ModelFileError> {
        // A byte-order mark is not part of either format (editors on Windows write one).
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let trimmed = text.trim_start();
        if !trimmed.starts_with('{') && serde_json::from_str::<serde_json::Value>(trimmed).is_ok() {
            return Err(ModelFileError {
                file: file.to_string(),
                line: None,
                layer: None,
                message: "JSON, but not a Keras model: model.to_json() writes one object with \"class_name\": \"Sequential\"".into(),
            });
        }
        let format = if trimmed.starts_with('{') {
            Format::KerasJson
        } else {
            Format::Toml
        };
        let spec = match format {
            Format::Toml => toml_reader::read(text),
            Format::KerasJson => keras_json::read(text),
        }
        .map_err(|e| ModelFileError {
            file: file.to_string(),
            line: e.line,
            layer: e.layer.map(|i| format!("layers[{i}]")),
            message: e.message,
        })?;
        let dialect = match format {
            Format::Toml => Dialect::Toml,
            Format::KerasJson => Dialect::KerasJson,
        };
        let mut model = ModelFile {
            file: file.to_string(),
            format,
            config: ModelConfig {
                name: spec.name.clone().unwrap_or_else(|| "sequential".into()),
                input_shape: Vec::new(),
                seed: 0,
                layers: Vec::new(),
                dataset: None,
            },
            lines: spec.layers.iter().map(|l| l.line).collect(),
            input_line: spec.input_shape.line,
            weights: 0,
            labels: spec
                .layers
                .iter()
                .enumerate()
                .map(|(i, l)| match &l.given_name {
                    Some(name) => format!(
                        "layers[{i}] ({} \"{}\")",
                        crate::text::escape(&l.class_name),
                        crate::text::escape(name)
                    ),
                    None => format!("layers[{i}] ({})", crate::text::escape(&l.class_name)),
                })
                .collect(),
        };
        if let Some(name) = &spec.name {
            if name.chars().any(crate::text::is_unprintable) || name.len() > 200 {
                return Err(model.error(
                    None,
                    None,
                    "name must be printable text of at most 200 bytes".into(),
                ));
            }
        }
        model.config.input_shape = model.input_shape(&spec)?;
        for (index, layer) in spec.layers.iter().enumerate() {
            let built = build_layer(layer, dialect)
                .map_err(|e| model.error(e.line, Some(index), e.message))?;
            model.config.layers.push(built);
        }
        if model.config.layers.is_empty() {
            return Err(model.error(None, None, "the model has no layers".into()));
        }
        model.weights = model.check_shapes()?;
        Ok(model)
    }

    /// An error about layer `index` (the line where it starts), for checks made outside this
    /// module, such as a last layer whose size is not the dataset's class count.
    pub fn layer_error(&self, index: usize, message: String) -> ModelFileError {
        self.error(None, Some(index), message)
    }

    /// An error about the input shape (at its line), such as images of another size.
    pub fn input_error(&self, message: String) -> ModelFileError {
        self.error(self.input_line, None, message)
    }

    /// How layer `index` is named in messages: `layers[2] (Conv2D)`.
    pub fn layer_label(&self, index: usize) -> &str {
        self.labels.get(index).map_or("a layer", String::as_str)
    }

    fn error(&self, line: Option<usize>, layer: Option<usize>, message: String) -> ModelFileError {
        ModelFileError {
            file: self.file.clone(),
            line: line.or_else(|| layer.and_then(|i| self.lines.get(i).copied().flatten())),
            layer: layer.map(|i| self.layer_label(i).to_string()),
            message,
        }
    }

    fn input_shape(&self, spec: &ModelSpec) -> Result<Vec<usize>, ModelFileError> {
        let field = &spec.input_shape;
        let fail = |message: &str| {
            self.error(
                field.line,
                None,
                format!("input_shape = {}: {message}", field.value),
            )
        };
        let Value::List(dims) = &field.value else {
            return Err(fail("expected a list such as [28, 28, 1]"));
        };
        if dims.is_empty() || dims.len() > crate::checkpoint::MAX_RANK {
            return Err(fail("expected 1 to 8 dimensions, as [28, 28, 1]"));
        }
        dims.iter()
            .map(|d| match d {
                Value::Int(i) if *i >= 1 => usize::try_from(*i).map_err(|_| fail("too large")),
                _ => Err(fail("every dimension must be a positive integer")),
            })
            .collect()
    }

    /// Walks the shapes as `Sequential::add` will, without allocating a weight: an impossible
    /// shape is reported at its layer, and a model of more than `MAX_WEIGHTS` is refused.
    fn check_shapes(&self) -> Result<usize, ModelFileError> {
        let mut shape = self.config.input_shape.clone();
        let mut weights = 0usize;
        for (index, layer) in self.config.layers.iter().enumerate() {
            let at = |message: String| self.error(None, Some(index), message);
            layer.validate().map_err(|e| at(e.to_string()))?;
            let values = checked_product("layer input shape", &shape).unwrap_or(usize::MAX);
            if index == 0 && values > MAX_VALUES {
                return Err(self.input_error(format!(
                    "input_shape {} holds more than {MAX_VALUES} values an image (1 GiB), more than convlab builds",
                    crate::layers::keras_shape(&shape)
                )));
            }
            let output = layer.output_shape(&shape).map_err(|e| at(e.to_string()))?;
            // Blame the layer that makes a too-large output, not the one that reads it.
            if checked_product("output shape", &output).map_or(true, |n| n > MAX_VALUES) {
                return Err(at(format!(
                    "its output {} holds more than {MAX_VALUES} values an image (1 GiB), more than convlab builds",
                    crate::layers::keras_shape(&output)
                )));
            }
            for spec in layer.param_specs(&shape) {
                weights = checked_product("weight", &spec.shape)
                    .ok()
                    .and_then(|n| weights.checked_add(n))
                    .filter(|&n| n <= MAX_WEIGHTS)
                    .ok_or_else(|| {
                        at(format!(
                            "the model would have more than {MAX_WEIGHTS} weights (1 GiB), more than convlab builds"
                        ))
                    })?;
            }
            shape = output;
        }
        Ok(weights)
    }

    /// The model, its weights drawn from `seed` (Glorot-uniform and zeros unless the file says).
    pub fn build(&self, seed: u64) -> Result<Sequential, ModelFileError> {
        let config = ModelConfig {
            seed,
            ..self.config.clone()
        };
        Sequential::from_config(&config).map_err(|e| self.error(None, None, e.to_string()))
    }

    /// How many weights `build` will allocate (f32 each).
    pub fn weight_count(&self) -> usize {
        self.weights
    }

    /// The layers, as the file declares them.
    pub fn layers(&self) -> &[Layer] {
        &self.config.layers
    }
}
