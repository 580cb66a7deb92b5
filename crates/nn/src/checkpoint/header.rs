//! The safetensors JSON header, read with repeated keys rejected.
//!
//! serde_json reading into a map silently keeps the last of two equal keys, so a file could carry
//! two different "conv2d/kernel" entries and which one wins would be an accident of the parser.
//! The visitors here see every key and refuse a repeat, at the top level (tensor names and
//! `__metadata__`) and inside the metadata; inside one tensor entry, serde's derive already
//! rejects a repeated field.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

/// The reserved top-level key of the string-to-string metadata.
pub(super) const METADATA_KEY: &str = "__metadata__";

/// One tensor's entry, as the header spells it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TensorInfo {
    pub dtype: String,
    pub shape: Vec<usize>,
    /// [begin, end) in bytes, relative to the first byte after the header.
    pub data_offsets: [u64; 2],
}

/// The whole header: metadata, and the tensor entries in the order they appear.
#[derive(Debug, Default)]
pub(super) struct Header {
    pub metadata: BTreeMap<String, String>,
    pub tensors: Vec<(String, TensorInfo)>,
}

impl<'de> Deserialize<'de> for Header {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(HeaderVisitor)
    }
}

struct HeaderVisitor;

impl<'de> Visitor<'de> for HeaderVisitor {
    type Value = Header;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object of tensor entries and __metadata__")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Header, A::Error> {
        let mut header = Header::default();
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format_args!("duplicate key {key:?}")));
            }
            if key == METADATA_KEY {
                header.metadata = map.next_value::<Metadata>()?.0;
            } else {
                let info = map.next_value::<TensorInfo>()?;
                header.tensors.push((key, info));
            }
        }
        Ok(header)
    }
}

/// `__metadata__`: strings to strings, no key twice.
struct Metadata(BTreeMap<String, String>);

impl<'de> Deserialize<'de> for Metadata {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(MetadataVisitor)
    }
}

struct MetadataVisitor;

impl<'de> Visitor<'de> for MetadataVisitor {
    type Value = Metadata;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object of string values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Metadata, A::Error> {
        let mut entries = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value::<String>()?;
            if entries.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "duplicate metadata key {key:?}"
                )));
            }
            entries.insert(key, value);
        }
        Ok(Metadata(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Header, String> {
        serde_json::from_str::<Header>(json).map_err(|e| e.to_string())
    }

    #[test]
    fn reads_entries_in_file_order_and_metadata() {
        let h = parse(
            r#"{"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
                "__metadata__":{"k":"v"},
                "a":{"dtype":"F32","shape":[],"data_offsets":[8,12]}}"#,
        )
        .unwrap();
        let names: Vec<&str> = h.tensors.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["b", "a"]);
        assert_eq!(h.metadata["k"], "v");
    }

    #[test]
    fn repeated_keys_are_errors_at_every_level() {
        let entry = r#"{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#;
        let twice = format!(r#"{{"w":{entry},"w":{entry}}}"#);
        assert!(parse(&twice).unwrap_err().contains("duplicate key \"w\""));
        let meta = r#"{"__metadata__":{"k":"1","k":"2"}}"#;
        assert!(parse(meta)
            .unwrap_err()
            .contains("duplicate metadata key \"k\""));
        let meta_twice = r#"{"__metadata__":{},"__metadata__":{}}"#;
        assert!(parse(meta_twice).unwrap_err().contains("duplicate key"));
        let field = r#"{"w":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#;
        assert!(parse(field).unwrap_err().contains("duplicate field"));
    }

    #[test]
    fn wrong_kinds_are_errors() {
        assert!(parse("[]").is_err());
        assert!(parse(r#"{"__metadata__":{"k":1}}"#).is_err());
        assert!(parse(r#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#).is_err());
        assert!(parse(r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}"#).is_err());
        let extra = r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":0}}"#;
        assert!(parse(extra).unwrap_err().contains("unknown field"));
    }
}
