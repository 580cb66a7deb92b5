//! TerminateOnNaN: stop as soon as a batch's loss or any gradient is NaN or infinite. It runs
//! before the optimizer step, so the bad values never reach the weights or the optimizer state.

use super::{Callback, Control};

#[derive(Clone, Debug, Default)]
pub struct TerminateOnNaN;

impl Callback for TerminateOnNaN {
    fn before_update(&mut self, loss: f32, grads_finite: bool) -> Control {
        if !loss.is_finite() {
            Control::Stop {
                reason: format!("loss became {loss}: training diverged (TerminateOnNaN)"),
            }
        } else if !grads_finite {
            Control::Stop {
                reason: "a gradient became NaN or infinite: training diverged (TerminateOnNaN)"
                    .into(),
            }
        } else {
            Control::Continue
        }
    }
}
