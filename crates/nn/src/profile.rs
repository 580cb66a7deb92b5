//! Where a training step's time goes: `fit` with `FitOptions::profile` times every layer's
//! forward pass and backward pass, the loss, the optimizer and the rest of the step, so a person
//! can see which kernel to look at first, and how much of a step is not arithmetic at all.
//!
//! How each part is timed (wall clock on the calling thread; the kernels run to completion
//! before they return, so a kernel split between threads is timed once, from start to end):
//! - a layer's forward: around its call in `Sequential::forward_to` (a layer run fused with the
//!   next, Conv2D with the pooling after it, is one row named after both);
//! - a layer's backward: `Tape::backward_timed` times each node, and a node belongs to the layer
//!   whose forward recorded it (the tape's length before and after that layer ran);
//! - the loss: its forward in `batch_loss` and the backward of the nodes recorded after the last
//!   layer;
//! - data: the batch's images and labels gathered and converted to f32;
//! - optimizer: its update of every weight;
//! - the rest: the step's wall time minus all of the above (making the tape and the gradient
//!   list, the finite check, callbacks, the bookkeeping between kernels).

use std::ops::Range;
use std::time::Duration;

/// One layer's (or fused pair's) share of a forward pass: which layers, how long, and which
/// tape nodes it recorded.
#[derive(Clone, Debug)]
pub struct LayerSpan {
    /// The first layer's index in the model.
    pub first: usize,
    /// How many layers ran as one op (2 for a fused pair).
    pub count: usize,
    pub forward: Duration,
    /// The tape nodes this layer's forward recorded.
    pub nodes: Range<usize>,
}

/// The summed times of one layer (or fused pair) over every step.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LayerTimes {
    pub first: usize,
    pub count: usize,
    pub forward: Duration,
    pub backward: Duration,
}

/// The summed times of every training step of a `fit` (validation apart).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepProfile {
    /// Training steps timed.
    pub steps: usize,
    /// In model order.
    pub layers: Vec<LayerTimes>,
    pub data: Duration,
    pub loss_forward: Duration,
    pub loss_backward: Duration,
    pub optimizer: Duration,
    /// Each step's whole wall time, summed.
    pub total: Duration,
    /// Evaluating the validation data after each epoch, summed over epochs.
    pub validation: Duration,
}

impl StepProfile {
    /// Adds one step's layer spans and node times (from `Tape::backward_timed`).
    pub(crate) fn add_layers(&mut self, spans: &[LayerSpan], node_times: &[Duration]) {
        let last_node = spans.last().map_or(0, |s| s.nodes.end);
        for span in spans {
            let backward: Duration = node_times
                .get(span.nodes.clone())
                .map_or(Duration::ZERO, |t| t.iter().sum());
            match self.layers.iter_mut().find(|l| l.first == span.first) {
                Some(layer) => {
                    layer.forward += span.forward;
                    layer.backward += backward;
                }
                None => self.layers.push(LayerTimes {
                    first: span.first,
                    count: span.count,
                    forward: span.forward,
                    backward,
                }),
            }
        }
        self.loss_backward += node_times.iter().skip(last_node).sum::<Duration>();
    }

    /// Every timed part of the steps together.
    pub fn accounted(&self) -> Duration {
        let layers: Duration = self.layers.iter().map(|l| l.forward + l.backward).sum();
        layers + self.data + self.loss_forward + self.loss_backward + self.optimizer
    }

    /// The steps' time outside every timed part.
    pub fn rest(&self) -> Duration {
        self.total.saturating_sub(self.accounted())
    }

    /// A total divided by the number of steps.
    pub fn per_step(&self, total: Duration) -> Duration {
        total / self.steps.max(1) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_times_go_to_the_layer_that_recorded_them_and_the_rest_to_the_loss() {
        let ms = Duration::from_millis;
        let spans = [
            LayerSpan {
                first: 0,
                count: 2,
                forward: ms(5),
                nodes: 0..3,
            },
            LayerSpan {
                first: 2,
                count: 1,
                forward: ms(1),
                nodes: 3..5,
            },
        ];
        let times = [ms(0), ms(0), ms(7), ms(2), ms(1), ms(4)];
        let mut profile = StepProfile::default();
        profile.add_layers(&spans, &times);
        profile.add_layers(&spans, &times);
        assert_eq!(profile.layers.len(), 2);
        assert_eq!(
            (profile.layers[0].forward, profile.layers[0].backward),
            (ms(10), ms(14))
        );
        assert_eq!(
            (profile.layers[1].forward, profile.layers[1].backward),
            (ms(2), ms(6))
        );
        assert_eq!(profile.loss_backward, ms(8));
        profile.total = ms(100);
        profile.steps = 2;
        assert_eq!(profile.accounted(), ms(40));
        assert_eq!(profile.rest(), ms(60));
        assert_eq!(profile.per_step(profile.rest()), ms(30));
    }
}
