//! The JSON that Keras's `model.to_json()` writes for a `Sequential`, so the chapter's Keras code
//! runs unchanged. Three shapes of it exist:
//!
//! - Keras 3: `{"class_name": "Sequential", "config": {"name", "layers": [...]}}`, the input
//!   shape in a leading `InputLayer` (`"batch_shape": [null, 28, 28, 1]`), each layer
//!   `{"module", "class_name", "config", "registered_name", "build_config"}`, dtypes as
//!   `DTypePolicy` objects;
//! - Keras 2 (tf.keras): the same outline, the input shape as `"batch_input_shape"` in an
//!   `InputLayer` or in the first layer's own config;
//! - Keras 2.2 and older: `"config"` is the list of layers itself.
//!
//! Without any of these, the shape given to `model.build()` (`"build_input_shape"`, or a layer's
//! `"build_config"`) is used. A JSON file is usually one line, so errors name the layer by its
//! index and Keras name rather than by line.

use serde_json::Value as Json;

use super::toml_reader::ReadError;
use super::value::{Field, LayerSpec, ModelSpec, Value};

pub(crate) fn read(text: &str) -> Result<ModelSpec, ReadError> {
    let json: Json = serde_json::from_str(text).map_err(|e| ReadError {
        line: Some(e.line()),
        layer: None,
        message: format!("not valid JSON: {e}"),
    })?;
    let top = |message: String| ReadError {
        line: None,
        layer: None,
        message,
    };
    let class = json.get("class_name").and_then(Json::as_str);
    match class {
        Some("Sequential") => {}
        Some(other) => {
            return Err(top(format!(
                "a Keras {:?} model; convlab reads Sequential models only",
                crate::text::escape(other)
            )))
        }
        None => {
            return Err(top(
                "no \"class_name\": this is not what Keras's model.to_json() writes".into(),
            ))
        }
    }
    let config = json.get("config");
    let (name, layers, build_shape) = match config {
        Some(Json::Array(layers)) => (None, layers, None),
        Some(Json::Object(c)) => (
            c.get("name").and_then(Json::as_str).map(str::to_string),
            match c.get("layers") {
                Some(Json::Array(layers)) => layers,
                _ => return Err(top("the Sequential's config has no \"layers\" list".into())),
            },
            c.get("build_input_shape"),
        ),
        _ => return Err(top("the Sequential has no \"config\"".into())),
    };
    if layers.len() > super::MAX_LAYERS {
        return Err(top(format!("more than {} layers", super::MAX_LAYERS)));
    }

    let mut input_shape = build_shape.map(|s| (s, "build_input_shape"));
    let mut specs = Vec::new();
    for (index, layer) in layers.iter().enumerate() {
        let error = |message: String| ReadError {
            line: None,
            layer: Some(specs.len()),
            message,
        };
        let class_name = layer
            .get("class_name")
            .and_then(Json::as_str)
            .ok_or_else(|| error(format!("layers[{index}] has no \"class_name\"")))?;
        let Some(Json::Object(config)) = layer.get("config") else {
            return Err(error(format!(
                "layers[{index}] ({}) has no \"config\" object",
                crate::text::escape(class_name)
            )));
        };
        if class_name == "InputLayer" {
            if !specs.is_empty() {
                return Err(error("an InputLayer after other layers".into()));
            }
            let shape = ["batch_shape", "batch_input_shape"]
                .iter()
                .find_map(|key| config.get(*key).map(|s| (s, *key)))
                .ok_or_else(|| error("the InputLayer has no batch_shape".into()))?;
            input_shape = Some(shape);
            continue;
        }
        let mut fields = Vec::new();
        for (key, value) in config {
            if key == "batch_input_shape" {
                if specs.is_empty() {
                    input_shape = Some((value, "batch_input_shape"));
                }
                continue;
            }
            fields.push(Field {
                name: key.clone(),
                value: convert(value).map_err(|m| error(format!("{key}: {m}")))?,
                line: None,
            });
        }
        if input_shape.is_none() {
            input_shape = layer
                .get("build_config")
                .and_then(|b| b.get("input_shape"))
                .map(|s| (s, "build_config"));
        }
        specs.push(LayerSpec {
            class_name: class_name.to_string(),
            given_name: config
                .get("name")
                .and_then(Json::as_str)
                .map(str::to_string),
            fields,
            line: None,
        });
    }
    let Some((shape, key)) = input_shape else {
        return Err(top(
            "no input shape: give the first layer input_shape=(28, 28, 1) (or add an Input, or call model.build) before model.to_json()".into(),
        ));
    };
    // Keras writes the batch axis first, as null (or a number for Input(batch_size=32)).
    let shape = match convert(shape) {
        Ok(Value::List(mut dims))
            if matches!(dims.first(), Some(Value::Null) | Some(Value::Int(_)))
                && dims.len() >= 2 =>
        {
            dims.remove(0);
            Value::List(dims)
        }
        Ok(other) => {
            return Err(top(format!(
                "{key} {other}: expected [null, height, width, channels]"
            )))
        }
        Err(m) => return Err(top(format!("{key}: {m}"))),
    };
    Ok(ModelSpec {
        name,
        input_shape: Field {
            name: "input_shape".into(),
            value: shape,
            line: None,
        },
        layers: specs,
    })
}

/// A JSON value into the common tree (whole numbers stay integers: Keras writes `32`, not `32.0`).
fn convert(value: &Json) -> Result<Value, String> {
    Ok(match value {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None if n.is_u64() => return Err(format!("the integer {n} is too large")),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::Str(s.clone()),
        Json::Array(items) => Value::List(items.iter().map(convert).collect::<Result<_, _>>()?),
        Json::Object(map) => Value::Map(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), convert(v)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}
