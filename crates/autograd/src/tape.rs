//! The tape: a `Vec` of nodes appended as operations run (define-by-run, like micrograd or
//! PyTorch). Each op computes its output immediately and, when recording, appends a node that
//! holds its inputs' node ids and a backward struct with exactly the state its backward needs.
//! Nodes are appended after their inputs, so walking the `Vec` backwards is a topological order:
//! when we reach a node, every use of its output has already added (`+=`) its gradient.
//!
//! A value that needs no gradient (the input images, a dropout mask) is a *constant*: it has no
//! node, and ops whose inputs are all constants record nothing. A tape made with `Tape::no_grad`
//! records nothing at all, so inference builds no graph and keeps no saved tensors.

use std::time::{Duration, Instant};

use convlab_tensor::elementwise::add_assign;
use convlab_tensor::Tensor;

use crate::AutogradError;

/// Which model parameter a leaf is, so an optimizer can find its gradient.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParamId(pub usize);

/// A value computed on a tape: the tensor itself and, if it takes part in the graph, its node.
#[derive(Clone, Debug)]
pub struct Var {
    value: Tensor,
    node: Option<usize>,
}

impl Var {
    pub fn value(&self) -> &Tensor {
        &self.value
    }

    pub fn shape(&self) -> &[usize] {
        self.value.shape()
    }

    /// True if gradients flow back through this value.
    pub fn is_tracked(&self) -> bool {
        self.node.is_some()
    }
}

/// The backward half of an op: given dy, the gradient of each input.
pub trait Backward: Send + Sync {
    /// The op's name, for messages.
    fn name(&self) -> &'static str;

    /// Gradients w.r.t. the inputs, in the order the op recorded them. `needs[i]` says whether
    /// input i wants one; return `None` where it does not (e.g. the image under the first conv
    /// layer), which saves the work.
    fn backward(&self, dy: &Tensor, needs: &[bool]) -> Vec<Option<Tensor>>;
}

struct Node {
    /// The node of each input; `None` for constants.
    inputs: Vec<Option<usize>>,
    /// `None` for a leaf (a parameter or an input we want the gradient of).
    backward: Option<Box<dyn Backward>>,
}

/// The recorded graph of one forward pass.
pub struct Tape {
    nodes: Vec<Node>,
    params: Vec<(ParamId, usize)>,
    recording: bool,
}

impl Default for Tape {
    fn default() -> Self {
        Tape::new()
    }
}

impl Tape {
    /// A tape that records, for training.
    pub fn new() -> Self {
        Tape {
            nodes: Vec::new(),
            params: Vec::new(),
            recording: true,
        }
    }

    /// A tape that records nothing: ops just compute (inference, evaluation).
    pub fn no_grad() -> Self {
        Tape {
            recording: false,
            ..Tape::new()
        }
    }

    pub fn is_recording(&self) -> bool {
        self.recording
    }

    /// Number of recorded nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// A value that needs no gradient.
    pub fn constant(&self, value: Tensor) -> Var {
        Var { value, node: None }
    }

    /// A value whose gradient we want (a leaf of the graph).
    pub fn leaf(&mut self, value: Tensor) -> Var {
        if !self.recording {
            return self.constant(value);
        }
        self.nodes.push(Node {
            inputs: Vec::new(),
            backward: None,
            // A leaf has no backward; its gradient is collected into `Gradients`.
        });
        Var {
            value,
            node: Some(self.nodes.len() - 1),
        }
    }

    /// A model parameter: a leaf whose gradient can be looked up by `id` after `backward`.
    pub fn param(&mut self, id: ParamId, value: Tensor) -> Var {
        let var = self.leaf(value);
        if let Some(node) = var.node {
            self.params.push((id, node));
        }
        var
    }

    /// Records an op's output. `backward` builds the op's saved state; it is only called when
    /// the tape records and at least one input is tracked, so inference saves nothing.
    pub fn record<B: Backward + 'static>(
        &mut self,
        value: Tensor,
        inputs: &[&Var],
        backward: impl FnOnce() -> B,
    ) -> Var {
        if !self.recording || inputs.iter().all(|v| v.node.is_none()) {
            return Var { value, node: None };
        }
        self.nodes.push(Node {
            inputs: inputs.iter().map(|v| v.node).collect(),
            backward: Some(Box::new(backward())),
        });
        Var {
            value,
            node: Some(self.nodes.len() - 1),
        }
    }

    /// Gradients of a scalar `loss` w.r.t. every leaf. A loss with more than one element is an
    /// error (use `backward_with` to supply the upstream gradient yourself).
    pub fn backward(&self, loss: &Var) -> Result<Gradients, AutogradError> {
        if loss.value.len() != 1 {
            return Err(AutogradError::NonScalarLoss {
                shape: loss.shape().to_vec(),
            });
        }
        self.backward_with(loss, Tensor::full(loss.shape(), 1.0))
    }

    /// Gradients w.r.t. every leaf, starting from `dy` as the gradient of `y`.
    pub fn backward_with(&self, y: &Var, dy: Tensor) -> Result<Gradients, AutogradError> {
        self.walk(y, dy, None)
    }

    /// [`Self::backward`], also timing each node's backward: the wall-clock time of node i's
    /// `Backward::backward` call and of adding its gradients into its inputs' (zero for leaves
    /// and nodes nothing depended on). Node i is the i-th value recorded, so a caller that noted
    /// `len()` before and after a layer ran can tell what that layer's backward cost.
    pub fn backward_timed(&self, loss: &Var) -> Result<(Gradients, Vec<Duration>), AutogradError> {
        if loss.value.len() != 1 {
            return Err(AutogradError::NonScalarLoss {
                shape: loss.shape().to_vec(),
            });
        }
        let mut times = vec![Duration::ZERO; self.nodes.len()];
        let grads = self.walk(loss, Tensor::full(loss.shape(), 1.0), Some(&mut times))?;
        Ok((grads, times))
    }

    /// The reverse walk behind `backward_with` and `backward_timed`.
    fn walk(
        &self,
        y: &Var,
        dy: Tensor,
        mut times: Option<&mut [Duration]>,
    ) -> Result<Gradients, AutogradError> {
        if dy.shape() != y.shape() {
            return Err(AutogradError::GradientShape {
                value: y.shape().to_vec(),
                gradient: dy.shape().to_vec(),
            });
        }
        let mut grads: Vec<Option<Tensor>> = vec![None; self.nodes.len()];
        let Some(root) = y.node else {
            return Ok(Gradients {
                leaves: grads,
                params: self.params.clone(),
            });
        };
        grads[root] = Some(dy);
        // Nodes are in the order they ran; reversed, every consumer comes before its inputs.
        for i in (0..=root).rev() {
            let node = &self.nodes[i];
            let Some(op) = &node.backward else {
                continue; // a leaf: its gradient stays in `grads[i]`
            };
            let Some(dy) = grads[i].take() else {
                continue; // nothing downstream used this value
            };
            let started = times.is_some().then(Instant::now);
            let needs: Vec<bool> = node.inputs.iter().map(Option::is_some).collect();
            let dxs = op.backward(&dy, &needs);
            assert_eq!(
                dxs.len(),
                node.inputs.len(),
                "{}: backward returned {} gradients for {} inputs",
                op.name(),
                dxs.len(),
                node.inputs.len()
            );
            for (input, dx) in node.inputs.iter().zip(dxs) {
                let (Some(j), Some(dx)) = (input, dx) else {
                    continue;
                };
                // A value used more than once receives the sum of its gradients.
                match &mut grads[*j] {
                    Some(acc) => add_assign(acc, &dx),
                    slot @ None => *slot = Some(dx),
                }
            }
            if let (Some(times), Some(started)) = (times.as_deref_mut(), started) {
                times[i] = started.elapsed();
            }
        }
        Ok(Gradients {
            leaves: grads,
            params: self.params.clone(),
        })
    }
}

/// The gradients of one backward pass, for the leaves of the tape.
pub struct Gradients {
    leaves: Vec<Option<Tensor>>,
    params: Vec<(ParamId, usize)>,
}

impl Gradients {
    /// The gradient of a leaf (None if the loss does not depend on it).
    pub fn get(&self, var: &Var) -> Option<&Tensor> {
        var.node.and_then(|i| self.leaves.get(i)?.as_ref())
    }

    /// The gradient of a parameter (None if the loss does not depend on it).
    pub fn param(&self, id: ParamId) -> Option<&Tensor> {
        let (_, node) = self.params.iter().find(|(p, _)| *p == id)?;
        self.leaves[*node].as_ref()
    }

    /// Every parameter gradient, in the order the parameters were put on the tape.
    pub fn params(&self) -> impl Iterator<Item = (ParamId, Option<&Tensor>)> {
        self.params
            .iter()
            .map(|&(id, node)| (id, self.leaves[node].as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fan_out_sums_gradients() {
        // y = x * x + 3x + x: dy/dx = 2x + 4 -> at x = [1, -2]: [6, 0].
        let mut tape = Tape::new();
        let x = tape.leaf(Tensor::new(&[2], vec![1.0, -2.0]).unwrap());
        let xx = tape.mul(&x, &x);
        let x3 = tape.scale(&x, 3.0);
        let s = tape.add(&xx, &x3);
        let s = tape.add(&s, &x);
        let loss = tape.sum(&s);
        let grads = tape.backward(&loss).unwrap();
        assert_eq!(grads.get(&x).unwrap().data(), &[6.0, 0.0]);
    }

    #[test]
    fn one_value_used_many_times() {
        // loss = sum over 10 uses of x: every use adds 1.
        let mut tape = Tape::new();
        let x = tape.leaf(Tensor::new(&[3], vec![0.5, 1.0, 2.0]).unwrap());
        let mut acc = tape.scale(&x, 1.0);
        for _ in 0..9 {
            acc = tape.add(&acc, &x);
        }
        let loss = tape.sum(&acc);
        let grads = tape.backward(&loss).unwrap();
        assert_eq!(grads.get(&x).unwrap().data(), &[10.0, 10.0, 10.0]);
    }

    #[test]
    fn timed_backward_gives_the_same_gradients_and_times_only_ops() {
        let mut tape = Tape::new();
        let x = tape.leaf(Tensor::new(&[2], vec![1.0, -2.0]).unwrap());
        let xx = tape.mul(&x, &x);
        let loss = tape.sum(&xx);
        let plain = tape.backward(&loss).unwrap();
        let (timed, times) = tape.backward_timed(&loss).unwrap();
        assert_eq!(plain.get(&x).unwrap().data(), timed.get(&x).unwrap().data());
        assert_eq!(times.len(), tape.len());
        // The leaf has no backward to time; the two ops ran.
        assert_eq!(times[0], Duration::ZERO);
        assert!(times[1] > Duration::ZERO && times[2] > Duration::ZERO);
        let y = tape.relu(&x);
        assert!(tape.backward_timed(&y).is_err());
    }

    #[test]
    fn backward_on_non_scalar_is_an_error() {
        let mut tape = Tape::new();
        let x = tape.leaf(Tensor::zeros(&[2, 2]));
        let y = tape.relu(&x);
        let err = tape.backward(&y).err().unwrap();
        assert_eq!(
            err.to_string(),
            "backward needs a scalar loss, got a value of shape [2, 2]"
        );
    }

    #[test]
    fn no_grad_records_nothing() {
        let mut tape = Tape::no_grad();
        let x = tape.leaf(Tensor::full(&[4], 2.0));
        let y = tape.relu(&x);
        let loss = tape.sum(&y);
        assert_eq!(loss.value().item(), 8.0);
        assert!(tape.is_empty() && !loss.is_tracked());
    }

    #[test]
    fn constants_get_no_gradient_and_no_node() {
        let mut tape = Tape::new();
        let c = tape.constant(Tensor::full(&[2], 1.0));
        let y = tape.scale(&c, 2.0);
        assert!(tape.is_empty() && !y.is_tracked());
        let p = tape.param(ParamId(7), Tensor::full(&[2], 3.0));
        let z = tape.mul(&p, &c);
        let loss = tape.sum(&z);
        let grads = tape.backward(&loss).unwrap();
        assert_eq!(grads.param(ParamId(7)).unwrap().data(), &[1.0, 1.0]);
        assert!(grads.get(&c).is_none());
    }
}
