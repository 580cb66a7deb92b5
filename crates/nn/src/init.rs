//! Weight initialisers, as in Keras, drawn from the model's seeded generator.
//!
//! Fans: a Dense kernel (in, out) has fan_in = in, fan_out = out; a Conv2D kernel (kh, kw, in,
//! out) has fan_in = kh*kw*in, fan_out = kh*kw*out. For the chapter's first conv layer, Glorot
//! uniform draws from U(-l, l) with l = sqrt(6 / (9 + 288)) ≈ 0.142, so std = l / sqrt(3) ≈ 0.082.

use serde::{Deserialize, Serialize};

use crate::rng::Rng;

/// Keras's truncated normal (cut at 2 std) has std 0.8796 of the untruncated one; the variance
/// scaling initialisers divide by it so the truncated draws have the intended std.
const TRUNCATED_STD: f32 = 0.879_625_7;

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", deny_unknown_fields)]
pub enum Initializer {
    /// U(-l, l), l = sqrt(6 / (fan_in + fan_out)). Keras's default for kernels.
    GlorotUniform,
    /// Truncated normal, std = sqrt(2 / (fan_in + fan_out)).
    GlorotNormal,
    /// U(-l, l), l = sqrt(6 / fan_in).
    HeUniform,
    /// Truncated normal, std = sqrt(2 / fan_in).
    HeNormal,
    /// N(mean, stddev), untruncated (Keras's RandomNormal).
    RandomNormal { mean: f32, stddev: f32 },
    /// All zeros. Keras's default for biases.
    Zeros,
}

impl Initializer {
    /// Why this initialiser's parameters cannot give usable weights (a checkpoint or model file
    /// may say `stddev: 1e308`, which would draw infinities), or None.
    pub fn problem(&self) -> Option<String> {
        const LIMIT: f32 = 1e6;
        match *self {
            Initializer::RandomNormal { mean, stddev } => {
                let fine = mean.is_finite()
                    && stddev.is_finite()
                    && stddev >= 0.0
                    && mean.abs() <= LIMIT
                    && stddev <= LIMIT;
                (!fine).then(|| {
                    format!("RandomNormal needs a finite mean and a stddev from 0 to {LIMIT:e} (got mean {mean}, stddev {stddev})")
                })
            }
            _ => None,
        }
    }

    /// `len` values for a tensor with the given fans.
    pub fn sample(&self, len: usize, fan_in: usize, fan_out: usize, rng: &mut Rng) -> Vec<f32> {
        let (fan_in, fan_out) = (fan_in.max(1) as f32, fan_out.max(1) as f32);
        let uniform = |limit: f32, rng: &mut Rng| -> Vec<f32> {
            (0..len).map(|_| rng.uniform_range(-limit, limit)).collect()
        };
        let truncated = |std: f32, rng: &mut Rng| -> Vec<f32> {
            (0..len)
                .map(|_| rng.truncated_normal() * std / TRUNCATED_STD)
                .collect()
        };
        match *self {
            Initializer::GlorotUniform => uniform((6.0 / (fan_in + fan_out)).sqrt(), rng),
            Initializer::GlorotNormal => truncated((2.0 / (fan_in + fan_out)).sqrt(), rng),
            Initializer::HeUniform => uniform((6.0 / fan_in).sqrt(), rng),
            Initializer::HeNormal => truncated((2.0 / fan_in).sqrt(), rng),
            Initializer::RandomNormal { mean, stddev } => {
                (0..len).map(|_| mean + stddev * rng.normal()).collect()
            }
            Initializer::Zeros => vec![0.0; len],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn std(v: &[f32]) -> f32 {
        let mean = v.iter().sum::<f32>() / v.len() as f32;
        (v.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / v.len() as f32).sqrt()
    }

    #[test]
    fn glorot_uniform_matches_keras_for_the_first_conv_layer() {
        let mut rng = Rng::new(42);
        // 100 kernels' worth, so the sample std is close to the distribution's.
        let v = Initializer::GlorotUniform.sample(288 * 100, 9, 288, &mut rng);
        let limit = (6.0f32 / 297.0).sqrt();
        assert!(v.iter().all(|x| x.abs() <= limit));
        assert!((std(&v) - limit / 3f32.sqrt()).abs() < 0.002, "{}", std(&v));
    }

    #[test]
    fn he_normal_has_the_intended_std() {
        let mut rng = Rng::new(7);
        let v = Initializer::HeNormal.sample(50_000, 50, 10, &mut rng);
        assert!(
            (std(&v) - (2.0f32 / 50.0).sqrt()).abs() < 0.003,
            "{}",
            std(&v)
        );
    }
}
