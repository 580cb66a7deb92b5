//! The protocol-buffer wire format, as much of it as an ONNX file and a TensorBoard event file
//! need, written by hand: a message is a sequence of (field number, wire type) keys each
//! followed by its value, a varint for integers, 4 or 8 little-endian bytes for floats and
//! doubles, or a length and the bytes for strings, byte blobs, packed arrays and nested messages
//! (<https://protobuf.dev/programming-guides/encoding/>).
//!
//! ONNX's `onnx.proto` is proto2, so repeated integers (`dims`, `ints`) are written one key per
//! element, not packed; readers accept both. TensorFlow's `summary.proto` is proto3, whose
//! repeated doubles (a histogram's buckets) are packed (`doubles`).

/// Wire types.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LENGTH_DELIMITED: u8 = 2;
const FIXED32: u8 = 5;

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

    /// A float field: 4 bytes, little-endian.
    pub fn float(&mut self, field: u32, value: f32) -> &mut Self {
        self.key(field, FIXED32);
        self.bytes.extend_from_slice(&value.to_le_bytes());
        self
    }

    /// A double field: 8 bytes, little-endian.
    pub fn double(&mut self, field: u32, value: f64) -> &mut Self {
        self.key(field, FIXED64);
        self.bytes.extend_from_slice(&value.to_le_bytes());
        self
    }

    /// A packed repeated double field: one key, the length, then 8 bytes per value.
    pub fn doubles(&mut self, field: u32, values: &[f64]) -> &mut Self {
        let packed: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.bytes(field, &packed)
    }
}

/// A reader for the tests: the fields of one message, in order, as (field, value).
#[cfg(test)]
pub mod read {
    #[derive(Debug, Clone, PartialEq)]
    pub enum Field {
        Varint(u64),
        Fixed32([u8; 4]),
        Fixed64([u8; 8]),
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
                1 => {
                    let v = bytes[at..at + 8].try_into().unwrap();
                    at += 8;
                    Field::Fixed64(v)
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

    /// Floats and doubles as protobuf writes them: key (field 1, wire type 1) = 0x09 then 8
    /// little-endian bytes; key (2, 5) = 0x15 then 4; a packed double array (6, 2) = 0x32, its
    /// length in bytes, the values.
    #[test]
    fn writes_floats_doubles_and_packed_doubles() {
        let mut m = Message::new();
        m.double(1, 1.5).float(2, 0.25).doubles(6, &[1.0, -2.0]);
        let bytes = m.into_bytes();
        assert_eq!(bytes[0], 0x09);
        assert_eq!(&bytes[1..9], &1.5f64.to_le_bytes());
        assert_eq!(bytes[9], 0x15);
        assert_eq!(&bytes[10..14], &0.25f32.to_le_bytes());
        assert_eq!(&bytes[14..16], &[0x32, 16]);
        assert_eq!(&bytes[16..24], &1.0f64.to_le_bytes());
        assert_eq!(&bytes[24..32], &(-2.0f64).to_le_bytes());
        assert_eq!(fields(&bytes)[0], (1, Field::Fixed64(1.5f64.to_le_bytes())));
    }
}
