//! Flatten: (N, ...) -> (N, product of the rest). No parameters.

use serde::{Deserialize, Serialize};

use crate::ModelError;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flatten {}

impl Flatten {
    pub fn new() -> Self {
        Flatten {}
    }

    pub(super) fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, ModelError> {
        Ok(vec![input.iter().product()])
    }
}
