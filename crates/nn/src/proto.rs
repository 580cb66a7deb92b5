//! The protocol-buffer wire format, as much of it as an ONNX file needs, written by hand: a
//! message is a sequence of (field number, wire type) keys each followed by its value, a varint
//! for integers, or a length and the bytes for strings, byte blobs and nested messages (<https://protobuf.dev/programming-guides/encoding/>).
//!
//! ONNX's `onnx.proto` is proto2, so repeated integers (`dims`, `ints`) are written one key per
//! element, not packed; readers accept both.

/// Wire types.
const VARINT: u8 = 0;
const LENGTH_DELIMITED: u8 = 2;

/// One message being written.
#[derive(Default, Debug, Clone)]
pub struct Message {
    bytes: Vec<u8>,
}

impl Message {
    pub fn new() -> Message {
        Message::default()
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.bytes.push((value as u8 & 0x7f) | 0x80);
            value >>= 7;
        }
        self.bytes.push(value as u8);
    }

    fn key(&mut self, field: u32, wire_type: u8) {
        self.varint(((field as u64) << 3) | wire_type as u64);
    }

    /// An int32, int64 or enum field (negative values as ten-byte two's complement, as
    /// protobuf writes them).
    pub fn int(&mut self, field: u32, value: i64) -> &mut Self {
        self.key(field, VARINT);
        self.varint(value as u64);
        self
    }

    /// A repeated int64 field, one element after another.
    pub fn ints(&mut self, field: u32, values: &[i64]) -> &mut Self {
        for &v in values {
            self.int(field, v);
        }
        self
    }

    pub fn bytes(&mut self, field: u32, value: &[u8]) -> &mut Self {
        self.key(field, LENGTH_DELIMITED);
        self.varint(value.len() as u64);
        self.bytes.extend_from_slice(value);
        self
    }

    pub fn string(&mut self, field: u32, value: &str) -> &mut Self {
        self.bytes(field, value.as_bytes())
    }

    pub fn message(&mut self, field: u32, value: &Message) -> &mut Self {
        self.bytes(field, &value.bytes)
    }
}

/// A reader for the tests: the fields of one message, in order, as (field, value).
#[cfg(test)]
pub mod read {
    #[derive(Debug, Clone, PartialEq)]
    pub enum Field {
        Varint(u64),
        Fixed32([u8; 4]),
        Bytes(Vec<u8>),
    }

    fn varint(bytes: &[u8], at: &mut usize) -> u64 {
        let mut value = 0u64;
        let mut shift = 0;
        loop {
            let b = bytes[*at];
            *at += 1;
            value |= ((b & 0x7f) as u64) << shift;
            if b < 0x80 {
                return value;
            }
            shift += 7;
        }
    }

    pub fn fields(bytes: &[u8]) -> Vec<(u32, Field)> {
        let mut at = 0;
        let mut out = Vec::new();
        while at < bytes.len() {
            let key = varint(bytes, &mut at);
            let field = (key >> 3) as u32;
            let value = match key & 7 {
                0 => Field::Varint(varint(bytes, &mut at)),
                5 => {
                    let v = bytes[at..at + 4].try_into().unwrap();
                    at += 4;
                    Field::Fixed32(v)
                }
                2 => {
                    let len = varint(bytes, &mut at) as usize;
                    let v = bytes[at..at + len].to_vec();
                    at += len;
                    Field::Bytes(v)
                }
                other => panic!("wire type {other}"),
            };
            out.push((field, value));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::read::{fields, Field};
    use super::*;

    #[test]
    fn encodes_as_protobuf_does() {
        // The examples of protobuf's encoding guide: 150 in field 1 is 08 96 01; "testing" in
        // field 2 is 12 07 74 65 73 74 69 6e 67.
        let mut m = Message::new();
        m.int(1, 150);
        assert_eq!(m.clone().into_bytes(), [0x08, 0x96, 0x01]);
        let mut s = Message::new();
        s.string(2, "testing");
        assert_eq!(
            s.into_bytes(),
            [0x12, 0x07, 0x74, 0x65, 0x73, 0x74, 0x69, 0x6e, 0x67]
        );
        // -1 as an int64: ten bytes.
        let mut n = Message::new();
        n.int(3, -1);
        assert_eq!(n.clone().into_bytes().len(), 11);
        assert_eq!(fields(&n.into_bytes()), [(3, Field::Varint(u64::MAX))]);
        let mut f = Message::new();
        f.ints(8, &[3, 300]);
        assert_eq!(
            fields(&f.into_bytes()),
            [(8, Field::Varint(3)), (8, Field::Varint(300))]
        );
    }
}
