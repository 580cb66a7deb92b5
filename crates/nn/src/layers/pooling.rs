//! MaxPooling2D and AveragePooling2D (see convlab_tensor::pool2d). Strides default to the pool
//! size and padding to valid, as in Keras. No parameters.

use convlab_autograd::{PoolSpec, Tape, Var};
use convlab_tensor::{Padding, Pool2dGeometry};
use serde::{Deserialize, Serialize};

use super::{keras_shape, rank_error, PaddingDef, Size2};
use crate::ModelError;

/// Strides default to the pool size (Keras's `strides=None`).
fn strides_or_pool(pool_size: Size2, strides: Option<Size2>) -> (usize, usize) {
    let Size2(sh, sw) = strides.unwrap_or(pool_size);
    (sh, sw)
}

fn validate(
    layer: &'static str,
    pool_size: Size2,
    strides: Option<Size2>,
) -> Result<(), ModelError> {
    let Size2(ph, pw) = pool_size;
    let (sh, sw) = strides_or_pool(pool_size, strides);
    if ph == 0 || pw == 0 || sh == 0 || sw == 0 {
        return Err(ModelError::InvalidLayer {
            layer,
            reason: format!(
                "pool_size and strides must be at least 1 (pool_size ({ph}, {pw}), strides ({sh}, {sw}))"
            ),
        });
    }
    Ok(())
}

fn output_shape(
    layer: &'static str,
    pool_size: Size2,
    strides: Option<Size2>,
    padding: Padding,
    input: &[usize],
) -> Result<Vec<usize>, ModelError> {
    let &[h, w, c] = input else {
        return Err(rank_error(layer, "a 3-d (height, width, channels)", input));
    };
    let g = Pool2dGeometry::new(
        &[1, h, w, c],
        (pool_size.0, pool_size.1),
        strides_or_pool(pool_size, strides),
        padding,
    )
    .map_err(|e| ModelError::Incompatible {
        layer,
        reason: format!("cannot follow an output of {}: {e}", keras_shape(input)),
    })?;
    Ok(vec![g.ho, g.wo, c])
}

macro_rules! pooling_layer {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            pub pool_size: Size2,
            /// None means "the pool size", as Keras's `strides=None`.
            pub strides: Option<Size2>,
            #[serde(with = "PaddingDef")]
            pub padding: Padding,
        }

        impl $name {
            pub fn new(pool_size: impl Into<Size2>) -> Self {
                $name {
                    pool_size: pool_size.into(),
                    strides: None,
                    padding: Padding::Valid,
                }
            }
            pub fn strides(mut self, strides: impl Into<Size2>) -> Self {
                self.strides = Some(strides.into());
                self
            }
            pub fn padding(mut self, padding: Padding) -> Self {
                self.padding = padding;
                self
            }
            pub(super) fn validate(&self) -> Result<(), ModelError> {
                validate(stringify!($name), self.pool_size, self.strides)
            }
            pub(super) fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, ModelError> {
                output_shape(
                    stringify!($name),
                    self.pool_size,
                    self.strides,
                    self.padding,
                    input,
                )
            }
        }
    };
}

pooling_layer!(
    MaxPooling2D,
    "Max pooling: the largest value of each window."
);
pooling_layer!(
    AveragePooling2D,
    "Average pooling: the mean of each window's real (unpadded) cells."
);

impl MaxPooling2D {
    pub(super) fn forward(&self, tape: &mut Tape, x: &Var) -> Var {
        let spec = self.spec();
        tape.max_pool2d(x, spec.pool_size, spec.strides, spec.padding)
    }

    /// Window, strides (the pool size if unset) and padding, as the fused op takes them.
    pub(super) fn spec(&self) -> PoolSpec {
        PoolSpec {
            pool_size: (self.pool_size.0, self.pool_size.1),
            strides: strides_or_pool(self.pool_size, self.strides),
            padding: self.padding,
        }
    }
}

impl AveragePooling2D {
    pub(super) fn forward(&self, tape: &mut Tape, x: &Var) -> Var {
        let strides = strides_or_pool(self.pool_size, self.strides);
        tape.avg_pool2d(
            x,
            (self.pool_size.0, self.pool_size.1),
            strides,
            self.padding,
        )
    }
}
