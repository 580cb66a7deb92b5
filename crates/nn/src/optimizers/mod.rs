//! Optimizers: given every weight and its gradient, take one step. Each keeps its own state per
//! weight (moments, velocities), created on the first step, and can hand that state to a
//! checkpoint and take it back when a run resumes.

mod adam;
mod rmsprop;
mod sgd;

pub use adam::Adam;
pub use rmsprop::RmsProp;
pub use sgd::Sgd;

use convlab_tensor::Tensor;
use serde::{Deserialize, Serialize};

/// One of the optimizers, with its hyper-parameters and state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Optimizer {
    Adam(Adam),
    Sgd(Sgd),
    RmsProp(RmsProp),
}

impl Optimizer {
    /// Updates every weight in place from its gradient.
    pub fn step(&mut self, weights: &mut [&mut Tensor], grads: &[&Tensor]) {
        assert_eq!(
            weights.len(),
            grads.len(),
            "optimizer step: {} weights but {} gradients",
            weights.len(),
            grads.len()
        );
        match self {
            Optimizer::Adam(o) => o.step(weights, grads),
            Optimizer::Sgd(o) => o.step(weights, grads),
            Optimizer::RmsProp(o) => o.step(weights, grads),
        }
    }

    /// Refuses hyper-parameters that no one could have set and no update can use (they arrive
    /// from files: a resumed backup). The message names the setting and its allowed range.
    pub fn check(&self) -> Result<(), String> {
        let positive = |name: &str, v: f32| -> Result<(), String> {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(format!(
                    "{} {name} is {v}; it must be a positive number",
                    self.name()
                ))
            }
        };
        // A decay rate of 1 would never move; Keras allows [0, 1).
        let rate = |name: &str, v: f32| -> Result<(), String> {
            if (0.0..1.0).contains(&v) {
                Ok(())
            } else {
                Err(format!(
                    "{} {name} is {v}; it must be in [0, 1)",
                    self.name()
                ))
            }
        };
        match self {
            Optimizer::Adam(o) => {
                positive("learning_rate", o.learning_rate)?;
                rate("beta_1", o.beta_1)?;
                rate("beta_2", o.beta_2)?;
                positive("epsilon", o.epsilon)
            }
            Optimizer::Sgd(o) => {
                positive("learning_rate", o.learning_rate)?;
                rate("momentum", o.momentum)
            }
            Optimizer::RmsProp(o) => {
                positive("learning_rate", o.learning_rate)?;
                rate("rho", o.rho)?;
                positive("epsilon", o.epsilon)
            }
        }
    }

    pub fn learning_rate(&self) -> f32 {
        match self {
            Optimizer::Adam(o) => o.learning_rate,
            Optimizer::Sgd(o) => o.learning_rate,
            Optimizer::RmsProp(o) => o.learning_rate,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Optimizer::Adam(_) => "adam",
            Optimizer::Sgd(_) => "sgd",
            Optimizer::RmsProp(_) => "rmsprop",
        }
    }

    /// The per-weight state as named tensors (e.g. "m/3"), for a checkpoint.
    pub fn state_tensors(&self) -> Vec<(String, Tensor)> {
        let named = |prefix: &str, slots: &[Tensor]| -> Vec<(String, Tensor)> {
            slots
                .iter()
                .enumerate()
                .map(|(i, t)| (format!("{prefix}/{i}"), t.clone()))
                .collect()
        };
        match self {
            Optimizer::Adam(o) => [named("m", &o.m), named("v", &o.v)].concat(),
            Optimizer::Sgd(o) => named("velocity", &o.velocity),
            Optimizer::RmsProp(o) => named("v", &o.v),
        }
    }

    /// The per-weight state lists by name (empty before the first step).
    pub fn state_slots(&self) -> Vec<(&'static str, &[Tensor])> {
        match self {
            Optimizer::Adam(o) => vec![("m", &o.m[..]), ("v", &o.v[..])],
            Optimizer::Sgd(o) => vec![("velocity", &o.velocity[..])],
            Optimizer::RmsProp(o) => vec![("v", &o.v[..])],
        }
    }

    /// Takes back the state `state_tensors` produced (the hyper-parameters and step count travel
    /// in the serialized optimizer itself).
    pub fn load_state_tensors(&mut self, tensors: &[(String, Tensor)]) -> Result<(), String> {
        let take = |prefix: &str| -> Result<Vec<Tensor>, String> {
            let mut slots: Vec<(usize, Tensor)> = Vec::new();
            for (name, t) in tensors {
                if let Some(i) = name.strip_prefix(prefix).and_then(|r| r.strip_prefix('/')) {
                    let i: usize = i
                        .parse()
                        .map_err(|_| format!("bad optimizer state name {name:?}"))?;
                    slots.push((i, t.clone()));
                }
            }
            slots.sort_by_key(|(i, _)| *i);
            if slots.iter().enumerate().any(|(k, (i, _))| k != *i) {
                return Err(format!("optimizer state {prefix}/* is not numbered 0..n"));
            }
            Ok(slots.into_iter().map(|(_, t)| t).collect())
        };
        match self {
            Optimizer::Adam(o) => {
                o.m = take("m")?;
                o.v = take("v")?;
            }
            Optimizer::Sgd(o) => o.velocity = take("velocity")?,
            Optimizer::RmsProp(o) => o.v = take("v")?,
        }
        Ok(())
    }
}

/// Zero state for each weight, made on the first step.
fn zeros_like(weights: &[&mut Tensor]) -> Vec<Tensor> {
    weights.iter().map(|w| Tensor::zeros(w.shape())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_settings_are_refused_by_name() {
        assert!(Optimizer::Adam(Adam::default()).check().is_ok());
        assert!(Optimizer::Sgd(Sgd::new(0.01).momentum(0.9)).check().is_ok());
        assert!(Optimizer::RmsProp(RmsProp::new(1e-3)).check().is_ok());
        let adam = |f: fn(&mut Adam)| {
            let mut o = Adam::default();
            f(&mut o);
            Optimizer::Adam(o).check().unwrap_err()
        };
        assert!(adam(|o| o.beta_1 = 5.0).contains("beta_1 is 5"));
        assert!(adam(|o| o.beta_2 = 1.0).contains("beta_2 is 1"));
        assert!(adam(|o| o.epsilon = -1.0).contains("epsilon is -1"));
        assert!(adam(|o| o.learning_rate = f32::NAN).contains("learning_rate is NaN"));
        let sgd = Optimizer::Sgd(Sgd::new(0.01).momentum(-0.5));
        assert!(sgd.check().unwrap_err().contains("momentum"));
    }
}
