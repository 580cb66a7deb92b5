//! convlab's own model file, TOML in Keras's words:
//!
//! ```toml
//! name = "lenet5"            # optional
//! input_shape = [28, 28, 1]
//!
//! [[layers]]
//! type = "Conv2D"            # the Keras class name
//! filters = 6
//! kernel_size = 5            # or [5, 5]
//! activation = "relu"
//! ```
//!
//! Read with the `toml` crate's spanned document, so every value keeps the line it is on.

use std::borrow::Cow;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::value::{Field, LayerSpec, ModelSpec, Value};

/// What is wrong with the file as a whole (not one layer's argument), and where.
#[derive(Debug)]
pub(crate) struct ReadError {
    pub line: Option<usize>,
    pub layer: Option<usize>,
    pub message: String,
}

/// Where each line starts, found once, so that naming the line of any of a file's values costs a
/// binary search (a 4 MiB file of 10,000 layers must not be rescanned for each of them).
struct Lines {
    starts: Vec<usize>,
    /// The lines (1-based) that begin with `[[`: the table headers. A `[[` after a `#` is in a
    /// comment and does not count.
    headers: Vec<usize>,
}

impl Lines {
    fn new(text: &str) -> Lines {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        let headers = text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.trim_start().starts_with("[["))
            .map(|(i, _)| i + 1)
            .collect();
        Lines { starts, headers }
    }

    /// The 1-based line of a byte offset.
    fn of(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset)
    }

    /// The nearest header at or above `line`.
    fn header_above(&self, line: usize) -> Option<usize> {
        let i = self.headers.partition_point(|&h| h <= line);
        i.checked_sub(1).map(|i| self.headers[i])
    }
}

pub(crate) fn read(text: &str) -> Result<ModelSpec, ReadError> {
    let lines = Lines::new(text);
    let document = DeTable::parse(text).map_err(|e| ReadError {
        line: e.span().map(|s| lines.of(s.start)),
        layer: None,
        message: format!("not valid TOML: {}", e.message()),
    })?;
    let line = |span: std::ops::Range<usize>| Some(lines.of(span.start));
    let top_error = |span, message: String| ReadError {
        line: line(span),
        layer: None,
        message,
    };

    let mut name = None;
    let mut input_shape = None;
    let mut layers = None;
    for (key, value) in document.get_ref().iter() {
        match key.get_ref().as_ref() {
            "name" => match value.get_ref() {
                DeValue::String(s) => name = Some(s.to_string()),
                _ => return Err(top_error(value.span(), "name must be a string".into())),
            },
            "input_shape" => {
                input_shape = Some(Field {
                    name: "input_shape".into(),
                    value: convert(value).map_err(|m| top_error(value.span(), m))?,
                    line: line(value.span()),
                })
            }
            "layers" => layers = Some(value),
            other => {
                return Err(top_error(
                    key.span(),
                    format!(
                        "unknown key {:?}; a model file has name, input_shape and [[layers]]",
                        crate::text::escape(other)
                    ),
                ))
            }
        }
    }
    let input_shape = input_shape.ok_or_else(|| ReadError {
        line: None,
        layer: None,
        message: "no input_shape (for example input_shape = [28, 28, 1])".into(),
    })?;
    let Some(layers) = layers else {
        return Err(ReadError {
            line: None,
            layer: None,
            message: "no [[layers]]: a model needs at least one layer".into(),
        });
    };
    let DeValue::Array(items) = layers.get_ref() else {
        return Err(top_error(
            layers.span(),
            "layers must be an array of tables, written [[layers]]".into(),
        ));
    };
    let mut specs = Vec::with_capacity(items.len().min(super::MAX_LAYERS));
    for (index, item) in items.iter().enumerate() {
        if index >= super::MAX_LAYERS {
            return Err(top_error(
                item.span(),
                format!("more than {} layers", super::MAX_LAYERS),
            ));
        }
        specs.push(read_layer(index, item, text, &lines)?);
    }
    Ok(ModelSpec {
        name,
        input_shape,
        layers: specs,
    })
}

fn read_layer(
    index: usize,
    item: &Spanned<DeValue>,
    text: &str,
    lines: &Lines,
) -> Result<LayerSpec, ReadError> {
    let error = |span: std::ops::Range<usize>, message: String| ReadError {
        line: Some(lines.of(span.start)),
        layer: Some(index),
        message,
    };
    let DeValue::Table(table) = item.get_ref() else {
        return Err(error(
            item.span(),
            "each layer must be a table, written [[layers]]".into(),
        ));
    };
    let mut class_name = None;
    let mut fields = Vec::new();
    for (key, value) in table.iter() {
        let key_name: &Cow<str> = key.get_ref();
        if key_name == "type" {
            match value.get_ref() {
                DeValue::String(s) => class_name = Some(s.to_string()),
                _ => {
                    return Err(error(
                        value.span(),
                        "type must be a string, the Keras class name".into(),
                    ))
                }
            }
            continue;
        }
        fields.push(Field {
            name: key_name.to_string(),
            value: convert(value).map_err(|m| error(value.span(), m))?,
            line: Some(lines.of(key.span().start)),
        });
    }
    // A layer starts at its [[layers]] header: the nearest line above its first key that begins
    // with `[[` (comments begin with `#`, so a `[[` inside one is not taken). An inline table
    // (`layers = [{ type = ... }]`) has no header: it starts at its first key.
    let start = table
        .iter()
        .map(|(k, _)| k.span().start)
        .min()
        .unwrap_or(item.span().start)
        .min(text.len());
    let first_key_line = lines.of(start);
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let inline = text[line_start..start].contains('{');
    let header_line = if inline {
        None
    } else {
        lines.header_above(first_key_line)
    };
    let line = Some(header_line.unwrap_or(first_key_line));
    let class_name = class_name.ok_or_else(|| ReadError {
        line,
        layer: Some(index),
        message: format!(
            "no type (one of {})",
            super::build_layer::LAYER_TYPES.join(", ")
        ),
    })?;
    let given_name = fields.iter().find_map(|f| match (&*f.name, &f.value) {
        ("name", Value::Str(s)) => Some(s.clone()),
        _ => None,
    });
    // Keep the file's order for messages (the table is sorted by key).
    fields.sort_by_key(|f| f.line);
    Ok(LayerSpec {
        class_name,
        given_name,
        fields,
        line,
    })
}

/// A TOML value into the common tree; dates have no meaning in a model.
fn convert(value: &Spanned<DeValue>) -> Result<Value, String> {
    Ok(match value.get_ref() {
        DeValue::String(s) => Value::Str(s.to_string()),
        DeValue::Integer(i) => Value::Int(
            i64::from_str_radix(i.as_str(), i.radix())
                .map_err(|_| format!("the integer {i} is too large"))?,
        ),
        DeValue::Float(x) => Value::Float(
            x.as_str()
                .parse::<f64>()
                .map_err(|_| format!("cannot read the number {x}"))?,
        ),
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(_) => return Err("a date has no meaning in a model file".into()),
        DeValue::Array(items) => Value::List(items.iter().map(convert).collect::<Result<_, _>>()?),
        DeValue::Table(table) => Value::Map(
            table
                .iter()
                .map(|(k, v)| Ok((k.get_ref().to_string(), convert(v)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}
