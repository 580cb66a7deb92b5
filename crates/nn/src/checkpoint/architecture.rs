//! Checking an architecture read from a file before building it.
//!
//! `Sequential::from_config` allocates and initialises every weight the architecture asks for,
//! so a 300-byte file declaring `Dense(units = 10^12)` would have it allocate terabytes before
//! the weights could be compared with the file's. This walk computes each layer's output shape
//! and weight shapes as `Sequential::add` will, without allocating a weight, and refuses the
//! architecture unless its weights would fit in the file: building it then allocates no more
//! than the file's size. (The budget is the whole file rather than its data section so that a
//! file missing one weight is reported as exactly that, after building.) On the way it keeps the building arithmetic checked (every shape a
//! layer sees has a size that fits usize) and bounds the two things that grow faster than the
//! file: the rank (every layer keeps a copy of its input shape) and the number of layers
//! (naming a layer looks at every earlier one).

use convlab_tensor::error::checked_product;

use super::error::Problem;
use crate::{ModelConfig, ModelError};

/// No convlab layer takes more than 3 dimensions; 8 leaves room without letting a file make
/// every layer copy a huge shape.
pub const MAX_RANK: usize = 8;

/// Far beyond any model convlab trains, and small enough that Keras-style naming (quadratic in
/// the layer count) stays instant.
pub const MAX_LAYERS: usize = 10_000;

/// Checks that `config` builds a model whose weights would fit in `file_len` bytes of f32s.
pub(super) fn check_fits(config: &ModelConfig, file_len: usize) -> Result<(), Problem> {
    let input = &config.input_shape;
    if input.is_empty() || input.contains(&0) {
        return Err(Problem::Model(ModelError::InvalidInputShape(input.clone())));
    }
    if input.len() > MAX_RANK {
        return Err(Problem::Architecture(format!(
            "input_shape has {} dimensions; convlab models take at most {MAX_RANK}",
            input.len()
        )));
    }
    if config.layers.len() > MAX_LAYERS {
        return Err(Problem::Architecture(format!(
            "{} layers; convlab loads at most {MAX_LAYERS}",
            config.layers.len()
        )));
    }
    let available = file_len / 4;
    let too_many = |needed| Problem::TooManyWeights {
        needed,
        available: file_len,
    };
    let mut shape = input.clone();
    let mut needed = 0usize;
    for layer in &config.layers {
        layer.validate().map_err(Problem::Model)?;
        // Flatten multiplies the dimensions unchecked; make sure their product fits first.
        checked_product("layer input shape", &shape)
            .map_err(|e| Problem::Architecture(format!("{}: {e}", layer.kind())))?;
        let output = layer.output_shape(&shape).map_err(Problem::Model)?;
        // Conv2D's output_shape has checked that its whole kernel's size fits, so the fans
        // param_specs multiplies out (sub-products of it) fit too; Dense's fans are not products.
        for spec in layer.param_specs(&shape) {
            needed = checked_product("weight", &spec.shape)
                .ok()
                .and_then(|count| needed.checked_add(count))
                .ok_or_else(|| too_many(usize::MAX))?;
            if needed > available {
                return Err(too_many(needed));
            }
        }
        shape = output;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Conv2D, Dense, Flatten, Layer};

    fn config(input_shape: &[usize], layers: Vec<Layer>) -> ModelConfig {
        ModelConfig {
            name: "m".into(),
            input_shape: input_shape.to_vec(),
            seed: 0,
            layers,
            dataset: None,
        }
    }

    #[test]
    fn weights_must_fit_in_the_data_section() {
        // Conv2D(2, 3) on 4x4x1: kernel 3*3*1*2 = 18 values, bias 2; Dense(3) on 8: 24 + 3.
        let c = config(
            &[4, 4, 1],
            vec![
                Conv2D::new(2, 3).into(),
                Flatten::new().into(),
                Dense::new(3).into(),
            ],
        );
        assert_eq!(check_fits(&c, 47 * 4), Ok(()));
        assert_eq!(
            check_fits(&c, 47 * 4 - 1),
            Err(Problem::TooManyWeights {
                needed: 47,
                available: 187
            })
        );
    }

    #[test]
    fn absurd_sizes_are_refused_without_building() {
        let huge = config(&[usize::MAX], vec![Dense::new(usize::MAX).into()]);
        assert!(matches!(
            check_fits(&huge, 1 << 20),
            Err(Problem::TooManyWeights { .. })
        ));
        let wide = config(&[1 << 40, 1 << 40, 1], vec![Flatten::new().into()]);
        assert!(matches!(
            check_fits(&wide, 0),
            Err(Problem::Architecture(_))
        ));
        let deep = config(&[1; MAX_RANK + 1], vec![]);
        assert!(matches!(
            check_fits(&deep, 0),
            Err(Problem::Architecture(_))
        ));
        let zero = config(&[0], vec![]);
        assert!(matches!(check_fits(&zero, 0), Err(Problem::Model(_))));
    }
}
