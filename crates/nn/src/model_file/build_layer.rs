//! One written layer (a Keras class name and its arguments) into a convlab `Layer`, with Keras's
//! argument names and defaults. Both formats come here, so `kernel_size = 3` in TOML and
//! `"kernel_size": [3, 3]` in Keras's JSON follow the same rules.
//!
//! Three kinds of argument: the ones convlab implements (`filters`, `padding`, ...); Keras
//! arguments whose value convlab always has (`data_format = "channels_last"`, `dilation_rate =
//! 1`, `groups = 1`, regularizers and constraints `null`, `trainable = true`, `dtype = float32`),
//! accepted at that value and refused at any other, naming it; and anything else, refused with
//! the list of what the layer takes. Keras's JSON also gets new Keras arguments that are `null`
//! (later Keras versions add such options, as `lora_rank`, whose null means "off").

use convlab_tensor::{ConvAlgorithm, Padding};

use super::value::{Field, LayerSpec, Value};
use crate::activation::Activation;
use crate::init::Initializer;
use crate::layers::{
    AveragePooling2D, Conv2D, Dense, Dropout, Flatten, Layer, MaxPooling2D, Size2,
};

/// The layers a model file can name, as Keras spells them.
pub const LAYER_TYPES: [&str; 6] = [
    "Conv2D",
    "MaxPooling2D",
    "AveragePooling2D",
    "Flatten",
    "Dense",
    "Dropout",
];

/// What is wrong with one argument (or the layer), and the line to point at.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ArgError {
    pub line: Option<usize>,
    pub message: String,
}

type Result<T> = std::result::Result<T, ArgError>;

/// Which file format the layer came from: Keras's JSON tolerates unknown `null` arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    Toml,
    KerasJson,
}

/// Builds the layer a spec describes.
pub(crate) fn build_layer(spec: &LayerSpec, dialect: Dialect) -> Result<Layer> {
    let mut args = Args::new(spec, dialect);
    let layer: Layer = match spec.class_name.as_str() {
        "Conv2D" | "Convolution2D" => {
            let filters = args.count("filters", None)?;
            let kernel_size = args.size2("kernel_size", None)?;
            let mut conv = Conv2D::new(filters, kernel_size)
                .strides(args.size2("strides", Some(Size2(1, 1)))?)
                .padding(args.padding()?)
                .activation(args.activation()?)
                .use_bias(args.boolean("use_bias", true)?)
                .kernel_initializer(
                    args.initializer("kernel_initializer", Initializer::GlorotUniform)?,
                )
                .bias_initializer(args.initializer("bias_initializer", Initializer::Zeros)?);
            conv.algorithm = args.algorithm()?;
            args.neutral_conv()?;
            for name in [
                "kernel_regularizer",
                "bias_regularizer",
                "activity_regularizer",
                "kernel_constraint",
                "bias_constraint",
            ] {
                args.null_only(name)?;
            }
            conv.into()
        }
        "MaxPooling2D" | "MaxPool2D" => {
            let (pool_size, strides, padding) = args.pooling()?;
            let mut pool = MaxPooling2D::new(pool_size).padding(padding);
            pool.strides = strides;
            pool.into()
        }
        "AveragePooling2D" | "AvgPool2D" => {
            let (pool_size, strides, padding) = args.pooling()?;
            let mut pool = AveragePooling2D::new(pool_size).padding(padding);
            pool.strides = strides;
            pool.into()
        }
        "Flatten" => {
            args.channels_last()?;
            Flatten::new().into()
        }
        "Dense" => {
            let units = args.count("units", None)?;
            let dense = Dense::new(units)
                .activation(args.activation()?)
                .use_bias(args.boolean("use_bias", true)?)
                .kernel_initializer(
                    args.initializer("kernel_initializer", Initializer::GlorotUniform)?,
                )
                .bias_initializer(args.initializer("bias_initializer", Initializer::Zeros)?);
            for name in [
                "kernel_regularizer",
                "bias_regularizer",
                "activity_regularizer",
                "kernel_constraint",
                "bias_constraint",
            ] {
                args.null_only(name)?;
            }
            dense.into()
        }
        "Dropout" => {
            let rate = args.float("rate")?;
            if !(0.0..1.0).contains(&rate) {
                let f = args.spec.fields.iter().find(|f| f.name == "rate");
                return Err(ArgError {
                    line: f.and_then(|f| f.line).or(spec.line),
                    message: format!(
                        "rate = {}: must be at least 0 and below 1 (as a float32: {rate})",
                        f.map_or(String::new(), |f| f.value.to_string())
                    ),
                });
            }
            args.null_only("noise_shape")?;
            args.null_only("seed")?;
            Dropout::new(rate).into()
        }
        other => {
            return Err(ArgError {
                line: spec.line,
                message: format!(
                    "\"{}\" is not a layer convlab has; it has {}",
                    crate::text::escape(other),
                    LAYER_TYPES.join(", ")
                ),
            })
        }
    };
    args.finish()?;
    Ok(layer)
}

/// The arguments of one layer, each taken at most once; `finish` refuses the rest.
struct Args<'a> {
    spec: &'a LayerSpec,
    dialect: Dialect,
    taken: Vec<&'static str>,
}

impl<'a> Args<'a> {
    fn new(spec: &'a LayerSpec, dialect: Dialect) -> Self {
        Args {
            spec,
            dialect,
            taken: Vec::new(),
        }
    }

    /// The field `name`, marking it as understood. A field written twice was refused by the
    /// readers (TOML forbids it; the JSON reader checks).
    fn take(&mut self, name: &'static str) -> Option<&'a Field> {
        self.taken.push(name);
        self.spec.fields.iter().find(|f| f.name == name)
    }

    fn error(&self, field: &Field, message: String) -> ArgError {
        ArgError {
            line: field.line.or(self.spec.line),
            message: format!("{} = {}: {message}", field.name, field.value),
        }
    }

    fn missing(&self, name: &str, what: &str) -> ArgError {
        ArgError {
            line: self.spec.line,
            message: format!("{} needs {name} ({what})", self.spec.class_name),
        }
    }

    /// A positive integer: filters, units.
    fn count(&mut self, name: &'static str, default: Option<usize>) -> Result<usize> {
        match self.take(name) {
            None => default.ok_or_else(|| self.missing(name, "a positive integer")),
            Some(f) => self.positive(f, &f.value),
        }
    }

    fn positive(&self, field: &Field, value: &Value) -> Result<usize> {
        match value {
            Value::Int(i) if *i >= 1 => usize::try_from(*i)
                .map_err(|_| self.error(field, "is too large for this machine".into())),
            Value::Int(_) => Err(self.error(field, "must be at least 1".into())),
            other => Err(self.error(
                field,
                format!("expected a positive integer, got {}", other.kind()),
            )),
        }
    }

    /// `3` or `[3, 3]`, as Keras's kernel_size, strides and pool_size.
    fn size2(&mut self, name: &'static str, default: Option<Size2>) -> Result<Size2> {
        match self.take(name) {
            None => default.ok_or_else(|| self.missing(name, "an integer or [height, width]")),
            Some(f) => self.pair(f),
        }
    }

    fn pair(&self, field: &Field) -> Result<Size2> {
        match &field.value {
            Value::Int(_) => {
                let v = self.positive(field, &field.value)?;
                Ok(Size2(v, v))
            }
            Value::List(items) if items.len() == 2 => Ok(Size2(
                self.positive(field, &items[0])?,
                self.positive(field, &items[1])?,
            )),
            other => Err(self.error(
                field,
                format!(
                    "expected an integer or a list of two (height, width), got {}",
                    describe_list(other)
                ),
            )),
        }
    }

    fn padding(&mut self) -> Result<Padding> {
        match self.take("padding") {
            None => Ok(Padding::Valid),
            Some(f) => match &f.value {
                Value::Str(s) if s.eq_ignore_ascii_case("valid") => Ok(Padding::Valid),
                Value::Str(s) if s.eq_ignore_ascii_case("same") => Ok(Padding::Same),
                _ => Err(self.error(f, "expected \"valid\" or \"same\"".into())),
            },
        }
    }

    fn activation(&mut self) -> Result<Activation> {
        let Some(f) = self.take("activation") else {
            return Ok(Activation::Linear);
        };
        let name = match &f.value {
            Value::Null => return Ok(Activation::Linear),
            Value::Str(s) => s.to_ascii_lowercase(),
            _ => return Err(self.error(f, "expected an activation's name".into())),
        };
        match name.as_str() {
            "linear" | "none" => Ok(Activation::Linear),
            "relu" => Ok(Activation::Relu),
            "sigmoid" => Ok(Activation::Sigmoid),
            "tanh" => Ok(Activation::Tanh),
            "softmax" => Ok(Activation::Softmax),
            _ => Err(self.error(
                f,
                "convlab has the activations linear, relu, sigmoid, tanh and softmax".into(),
            )),
        }
    }

    fn boolean(&mut self, name: &'static str, default: bool) -> Result<bool> {
        match self.take(name) {
            None => Ok(default),
            Some(Field {
                value: Value::Bool(b),
                ..
            }) => Ok(*b),
            Some(f) => Err(self.error(f, "expected true or false".into())),
        }
    }

    /// Dropout's rate, a number in [0, 1) (the layer itself checks the range).
    fn float(&mut self, name: &'static str) -> Result<f32> {
        match self.take(name) {
            None => Err(self.missing(name, "a number from 0 to 1")),
            Some(f) => match f.value {
                Value::Float(x) if x.is_finite() => Ok(x as f32),
                Value::Int(i) => Ok(i as f32),
                _ => Err(self.error(f, "expected a finite number".into())),
            },
        }
    }

    /// `"glorot_uniform"`, `"GlorotUniform"`, or Keras's `{class_name, config}` form.
    fn initializer(&mut self, name: &'static str, default: Initializer) -> Result<Initializer> {
        let Some(f) = self.take(name) else {
            return Ok(default);
        };
        let (class, config) = match &f.value {
            Value::Str(s) => (s.as_str(), None),
            Value::Map(_) => match (f.value.get("class_name"), f.value.get("config")) {
                (Some(Value::Str(s)), config) => (s.as_str(), config),
                _ => {
                    return Err(self.error(
                        f,
                        "an initializer table needs class_name (and config for its arguments)"
                            .into(),
                    ))
                }
            },
            _ => {
                return Err(self.error(
                    f,
                    "expected an initializer's name, as \"glorot_uniform\"".into(),
                ))
            }
        };
        if let Value::Map(entries) = &f.value {
            if let Some((key, _)) = entries.iter().find(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "class_name" | "config" | "module" | "registered_name"
                )
            }) {
                return Err(self.error(
                    f,
                    format!(
                        "unknown key \"{}\": an initializer has class_name and config",
                        crate::text::escape(key)
                    ),
                ));
            }
        }
        let mut known = snake_case(class);
        if known == "variance_scaling" {
            // Keras 2.0-2.2 save their defaults this way: glorot_* is scale 1 over fan_avg,
            // he_* scale 2 over fan_in ("normal" then meant a truncated normal).
            known = variance_scaling(config).ok_or_else(|| {
                self.error(
                    f,
                    "convlab has VarianceScaling only as glorot (scale 1, fan_avg) and he (scale 2, fan_in)".into(),
                )
            })?;
        }
        let mut mean = 0.0;
        let mut stddev = 0.05;
        if let Some(config) = config {
            let Value::Map(entries) = config else {
                return Err(self.error(f, "config must be a table".into()));
            };
            for (key, value) in entries {
                if class == "VarianceScaling" {
                    break; // read by variance_scaling
                }
                match (key.as_str(), value, known.as_str()) {
                    // Keras writes its options' defaults as null (seed, and since 3.13
                    // input_axes and output_axes): null asks for nothing convlab lacks.
                    (_, Value::Null, _) => {}
                    ("seed", _, _) => {
                        return Err(self.error(
                            f,
                            "a seed per initializer is not supported: convlab draws every weight from the model's seed (--seed)".into(),
                        ))
                    }
                    ("mean", v, "random_normal") => mean = number(v).ok_or_else(|| self.error(f, "mean must be a number".into()))?,
                    ("stddev", v, "random_normal") => stddev = number(v).ok_or_else(|| self.error(f, "stddev must be a number".into()))?,
                    (other, _, _) => {
                        return Err(self.error(
                            f,
                            format!("{} has no argument \"{}\" in convlab", crate::text::escape(class), crate::text::escape(other)),
                        ))
                    }
                }
            }
        }
        let init = match known.as_str() {
            "glorot_uniform" => Initializer::GlorotUniform,
            "glorot_normal" => Initializer::GlorotNormal,
            "he_uniform" => Initializer::HeUniform,
            "he_normal" => Initializer::HeNormal,
            "zeros" => Initializer::Zeros,
            "random_normal" => Initializer::RandomNormal {
                mean: mean as f32,
                stddev: stddev as f32,
            },
            _ => {
                return Err(self.error(
                    f,
                    "convlab has the initializers glorot_uniform, glorot_normal, he_uniform, he_normal, random_normal and zeros".into(),
                ))
            }
        };
        // Out-of-range arguments (stddev 1e39 is infinite in float32) at the field's own line.
        if let Some(problem) = init.problem() {
            return Err(self.error(f, problem));
        }
        Ok(init)
    }

    /// convlab's own choice of convolution algorithm (not a Keras argument).
    fn algorithm(&mut self) -> Result<ConvAlgorithm> {
        let Some(f) = self.take("algorithm") else {
            return Ok(ConvAlgorithm::Auto);
        };
        match &f.value {
            Value::Str(s) => match s.to_ascii_lowercase().as_str() {
                "auto" => Ok(ConvAlgorithm::Auto),
                "im2col" => Ok(ConvAlgorithm::Im2col),
                "direct" => Ok(ConvAlgorithm::Direct),
                "winograd" => Ok(ConvAlgorithm::Winograd),
                "reference" => Ok(ConvAlgorithm::Reference),
                _ => Err(self.error(
                    f,
                    "expected auto, im2col, direct, winograd or reference".into(),
                )),
            },
            _ => Err(self.error(f, "expected an algorithm's name".into())),
        }
    }

    /// pool_size (default 2), strides (default: the pool size), padding.
    fn pooling(&mut self) -> Result<(Size2, Option<Size2>, Padding)> {
        let pool_size = self.size2("pool_size", Some(Size2(2, 2)))?;
        let strides = match self.take("strides") {
            None
            | Some(Field {
                value: Value::Null, ..
            }) => None,
            Some(f) => Some(self.pair(f)?),
        };
        let padding = self.padding()?;
        self.channels_last()?;
        Ok((pool_size, strides, padding))
    }

    /// Conv2D's Keras arguments that convlab always has at one value.
    fn neutral_conv(&mut self) -> Result<()> {
        self.channels_last()?;
        if let Some(f) = self.take("dilation_rate") {
            if self.pair(f).ok() != Some(Size2(1, 1)) {
                return Err(self.error(f, "convlab has no dilated convolution (only 1)".into()));
            }
        }
        if let Some(f) = self.take("groups") {
            if f.value != Value::Int(1) {
                return Err(self.error(f, "convlab has no grouped convolution (only 1)".into()));
            }
        }
        Ok(())
    }

    fn channels_last(&mut self) -> Result<()> {
        match self.take("data_format") {
            None
            | Some(Field {
                value: Value::Null, ..
            }) => Ok(()),
            Some(f) => match &f.value {
                Value::Str(s) if s == "channels_last" => Ok(()),
                _ => Err(self.error(f, "convlab's tensors are channels-last (NHWC) only".into())),
            },
        }
    }

    fn null_only(&mut self, name: &'static str) -> Result<()> {
        match self.take(name) {
            None
            | Some(Field {
                value: Value::Null, ..
            }) => Ok(()),
            Some(f) => Err(self.error(f, "convlab does not support this argument".into())),
        }
    }

    /// Refuses what no rule took. Every layer also accepts `name` (used in messages),
    /// `trainable = true` and a float32 `dtype`.
    fn finish(mut self) -> Result<()> {
        self.take("name");
        if let Some(f) = self.take("trainable") {
            if f.value != Value::Bool(true) {
                return Err(self.error(f, "convlab trains every layer (only true)".into()));
            }
        }
        if let Some(f) = self.take("dtype") {
            if !is_float32(&f.value) {
                return Err(self.error(f, "convlab computes in float32 only".into()));
            }
        }
        let known = |name: &str| self.taken.contains(&name);
        for field in &self.spec.fields {
            if known(&field.name) {
                continue;
            }
            if self.dialect == Dialect::KerasJson && field.value == Value::Null {
                continue;
            }
            let takes: Vec<&str> = self
                .taken
                .iter()
                .copied()
                .filter(|n| !matches!(*n, "name" | "trainable" | "dtype"))
                .collect();
            return Err(ArgError {
                line: field.line.or(self.spec.line),
                message: format!(
                    "unknown argument \"{}\"; {} takes {}",
                    crate::text::escape(&field.name),
                    self.spec.class_name,
                    if takes.is_empty() {
                        "none".to_string()
                    } else {
                        takes.join(", ")
                    }
                ),
            });
        }
        Ok(())
    }
}

/// `"float32"`, null, or Keras 3's `{"class_name": "DTypePolicy", "config": {"name": "float32"}}`.
fn is_float32(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Str(s) => s == "float32",
        Value::Map(_) => matches!(
            value.get("config").and_then(|c| c.get("name")),
            Some(Value::Str(s)) if s == "float32"
        ),
        _ => false,
    }
}

fn number(value: &Value) -> Option<f64> {
    match *value {
        Value::Float(x) if x.is_finite() => Some(x),
        Value::Int(i) => Some(i as f64),
        _ => None,
    }
}

/// The Glorot or He initializer a Keras 2 `VarianceScaling` config stands for, or None.
fn variance_scaling(config: Option<&Value>) -> Option<String> {
    let config = config?;
    let get = |k: &str| config.get(k);
    if !matches!(get("seed"), None | Some(Value::Null)) {
        return None;
    }
    let scale = match get("scale") {
        None => 1.0,
        Some(v) => number(v)?,
    };
    let mode = match get("mode") {
        None => "fan_in",
        Some(Value::Str(s)) => s.as_str(),
        _ => return None,
    };
    let uniform = match get("distribution") {
        None => false,
        Some(Value::Str(s)) if s == "uniform" => true,
        Some(Value::Str(s)) if s == "normal" || s == "truncated_normal" => false,
        _ => return None,
    };
    let family = match (scale, mode) {
        (1.0, "fan_avg") => "glorot",
        (2.0, "fan_in") => "he",
        _ => return None,
    };
    Some(format!(
        "{family}_{}",
        if uniform { "uniform" } else { "normal" }
    ))
}

/// "GlorotUniform" and "glorot_uniform" name the same initializer.
fn snake_case(name: &str) -> String {
    if name.contains('_') || name.chars().all(|c| c.is_ascii_lowercase()) {
        return name.to_string();
    }
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn describe_list(value: &Value) -> String {
    match value {
        Value::List(items) => format!("a list of {}", items.len()),
        other => other.kind().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keras_class_names_become_snake_case() {
        assert_eq!(snake_case("GlorotUniform"), "glorot_uniform");
        assert_eq!(snake_case("HeNormal"), "he_normal");
        assert_eq!(snake_case("zeros"), "zeros");
        assert_eq!(snake_case("Zeros"), "zeros");
    }
}
