//! The one tree both model-file formats are read into: a layer is a Keras class name and its
//! arguments, each value with the line it was written on (TOML knows it; Keras's JSON is usually
//! one line, so there it is None). `build_layer.rs` turns such a layer into a convlab `Layer`, so
//! the TOML and the Keras JSON readers share every rule about arguments and defaults.

use std::fmt;

/// A value as a model file holds it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Value>),
    /// A table (TOML) or an object (JSON), in file order.
    Map(Vec<(String, Value)>),
}

impl Value {
    /// What kind of value this is, for "expected an integer, got a string".
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Str(_) => "a string",
            Value::List(_) => "a list",
            Value::Map(_) => "a table",
        }
    }

    /// The entry `key` of a map.
    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Values print as the file would write them (`[3, 3]`, `"same"`), so a message can quote one.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => write!(f, "null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Str(s) => write!(f, "\"{}\"", crate::text::escape(s)),
            Value::List(items) => {
                write!(f, "[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{item}")?;
                }
                write!(f, "]")
            }
            Value::Map(entries) => {
                write!(f, "{{")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{} = {v}", crate::text::escape(k))?;
                }
                write!(f, "}}")
            }
        }
    }
}

/// One argument of a layer: `filters = 32` on line 7.
#[derive(Clone, Debug)]
pub(crate) struct Field {
    pub name: String,
    pub value: Value,
    pub line: Option<usize>,
}

/// One layer as written: its Keras class name and arguments.
#[derive(Clone, Debug)]
pub(crate) struct LayerSpec {
    pub class_name: String,
    /// The name the file gives the layer (Keras's JSON always has one), for messages.
    pub given_name: Option<String>,
    pub fields: Vec<Field>,
    /// Where the layer starts (`[[layers]]`), or None.
    pub line: Option<usize>,
}

/// A model file read into the common tree, before any layer is built.
#[derive(Clone, Debug)]
pub(crate) struct ModelSpec {
    pub name: Option<String>,
    pub input_shape: Field,
    pub layers: Vec<LayerSpec>,
}
