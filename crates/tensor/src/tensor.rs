//! `Tensor`: an n-d array of f32 in row-major order.
//!
//! The storage is shared (`Arc`), so cloning a tensor to save it for a backward pass costs a
//! reference count, not a copy. Writing through `data_mut` copies only if someone else still holds
//! the storage (copy on write).

use std::fmt;
use std::sync::Arc;

use crate::error::{checked_product, shape_panic, TensorError};

#[derive(Clone, PartialEq)]
pub struct Tensor {
    shape: Vec<usize>,
    data: Arc<Vec<f32>>,
}

/// The last owner of a large tensor's storage returns it to the pool (see `recycle`).
impl Drop for Tensor {
    fn drop(&mut self) {
        if let Some(data) = Arc::get_mut(&mut self.data) {
            crate::recycle::give(std::mem::take(data));
        }
    }
}

impl Tensor {
    /// A tensor from user data; the length must match the shape.
    pub fn new(shape: &[usize], data: Vec<f32>) -> Result<Self, TensorError> {
        let expected = checked_product("tensor shape", shape)?;
        if expected != data.len() {
            return Err(TensorError::DataLength {
                shape: shape.to_vec(),
                expected,
                actual: data.len(),
            });
        }
        Ok(Tensor {
            shape: shape.to_vec(),
            data: Arc::new(data),
        })
    }

    /// Engine-internal constructor: panics (naming `op`) if the length does not match.
    #[track_caller]
    pub fn from_vec(op: &str, shape: &[usize], data: Vec<f32>) -> Self {
        match Tensor::new(shape, data) {
            Ok(t) => t,
            Err(e) => panic!("{op}: {e}"),
        }
    }

    /// A tensor filled with `value`. Panics if the shape's size overflows `usize`.
    #[track_caller]
    pub fn full(shape: &[usize], value: f32) -> Self {
        let len = checked_product("Tensor::full", shape).unwrap_or_else(|e| panic!("{e}"));
        Tensor {
            shape: shape.to_vec(),
            data: Arc::new(vec![value; len]),
        }
    }

    #[track_caller]
    pub fn zeros(shape: &[usize]) -> Self {
        Tensor::full(shape, 0.0)
    }

    /// A 0-d tensor holding one value.
    pub fn scalar(value: f32) -> Self {
        Tensor {
            shape: Vec::new(),
            data: Arc::new(vec![value]),
        }
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// Mutable access; copies the storage first if it is shared.
    pub fn data_mut(&mut self) -> &mut [f32] {
        Arc::make_mut(&mut self.data).as_mut_slice()
    }

    /// The values, without a copy when this tensor is the only owner.
    pub fn into_vec(mut self) -> Vec<f32> {
        std::mem::take(Arc::make_mut(&mut self.data))
    }

    /// The single value of a tensor with one element.
    #[track_caller]
    pub fn item(&self) -> f32 {
        if self.data.len() != 1 {
            shape_panic("item", "needs exactly one element", &[("x", &self.shape)]);
        }
        self.data[0]
    }

    /// The same values under another shape with the same number of elements (no copy).
    pub fn reshape(&self, shape: &[usize]) -> Result<Self, TensorError> {
        let to_len = checked_product("reshape", shape)?;
        if to_len != self.len() {
            return Err(TensorError::Reshape {
                from: self.shape.clone(),
                from_len: self.len(),
                to: shape.to_vec(),
                to_len,
            });
        }
        Ok(Tensor {
            shape: shape.to_vec(),
            data: Arc::clone(&self.data),
        })
    }

    /// The shape as `[a, b, c, d]`; panics naming `op` if the tensor is not 4-d.
    #[track_caller]
    pub fn dims4(&self, op: &str) -> [usize; 4] {
        match self.shape[..] {
            [a, b, c, d] => [a, b, c, d],
            _ => shape_panic(op, "expected a 4-d tensor", &[("x", &self.shape)]),
        }
    }

    /// The shape as `[rows, cols]`; panics naming `op` if the tensor is not 2-d.
    #[track_caller]
    pub fn dims2(&self, op: &str) -> [usize; 2] {
        match self.shape[..] {
            [a, b] => [a, b],
            _ => shape_panic(op, "expected a 2-d tensor", &[("x", &self.shape)]),
        }
    }

    /// Largest absolute value (0 for an empty tensor); NaN if any value is NaN.
    pub fn max_abs(&self) -> f32 {
        self.data.iter().fold(0.0f32, |m, &v| {
            if v.is_nan() || m.is_nan() {
                f32::NAN
            } else {
                m.max(v.abs())
            }
        })
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 8;
        write!(f, "Tensor{:?} ", self.shape)?;
        let head = &self.data[..self.data.len().min(SHOWN)];
        write!(f, "{head:?}")?;
        if self.data.len() > SHOWN {
            write!(f, " ... ({} values)", self.data.len())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_checks_length() {
        assert!(Tensor::new(&[2, 3], vec![0.0; 6]).is_ok());
        let err = Tensor::new(&[2, 3], vec![0.0; 5]).unwrap_err();
        assert!(err.to_string().contains("needs 6 values, got 5"), "{err}");
    }

    #[test]
    fn new_rejects_overflowing_shape() {
        let err = Tensor::new(&[usize::MAX, 2], vec![]).unwrap_err();
        assert!(matches!(err, TensorError::Overflow { .. }), "{err}");
    }

    #[test]
    fn clone_shares_and_write_copies() {
        let a = Tensor::new(&[3], vec![1.0, 2.0, 3.0]).unwrap();
        let mut b = a.clone();
        b.data_mut()[0] = 9.0;
        assert_eq!(a.data(), &[1.0, 2.0, 3.0]);
        assert_eq!(b.data(), &[9.0, 2.0, 3.0]);
    }

    #[test]
    fn reshape_keeps_values() {
        let a = Tensor::new(&[2, 3], (0..6).map(|v| v as f32).collect()).unwrap();
        let b = a.reshape(&[3, 2]).unwrap();
        assert_eq!(b.shape(), &[3, 2]);
        assert_eq!(b.data(), a.data());
        assert!(a.reshape(&[4, 2]).is_err());
    }

    #[test]
    #[should_panic(expected = "conv2d: expected a 4-d tensor (x [2, 3])")]
    fn dims4_names_op_and_shape() {
        Tensor::zeros(&[2, 3]).dims4("conv2d");
    }
}
