//! The model's plan: which kernel runs each layer, as `convlab summary --plan` and `convlab
//! train` print it. The choices come from `convlab_tensor::plan` (the one place that makes them),
//! asked here with each layer's shapes in the same order `Sequential::forward_to` runs them, so
//! the plan shown is the one that runs.

use convlab_tensor::plan::{conv_kernels, conv_relu_pool, ConvKernel, ConvKernels, ConvReluPool};
use convlab_tensor::{Conv2dGeometry, Pool2dGeometry};

use crate::activation::Activation;
use crate::layers::{Layer, Size2};
use crate::Sequential;

/// How one layer runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// A convolution by these kernels (forward, backward); its activation runs after it.
    Conv(ConvKernels),
    /// A convolution with its ReLU in the kernel's epilogue (one pass over y).
    ConvRelu(ConvKernels),
    /// A convolution, its ReLU and the next layer's max pooling as one op.
    ConvReluPool(ConvReluPool),
    /// This max pooling runs inside the convolution before it.
    PooledByPrevious,
    MaxPool,
    AvgPool,
    /// A matrix product (matrixmultiply's packed GEMM) and the bias.
    Dense,
    /// A reshape: no work.
    Flatten,
    /// A mask multiplied in (training only).
    Dropout,
}

impl Plan {
    /// The plan in words, with when it wins.
    pub fn describe(self) -> String {
        match self {
            // The kernels last: a layer whose passes differ reads "conv2d ...: direct forward,
            // im2col backward".
            Plan::Conv(k) => format!("conv2d: {}", k.name()),
            Plan::ConvRelu(k) => format!("conv2d + relu in its epilogue: {}", k.name()),
            Plan::ConvReluPool(ConvReluPool::Chunks(k)) => format!(
                "conv2d + relu + the next max pooling, in chunks of images (output kept in L2): {}",
                k.name()
            ),
            Plan::ConvReluPool(ConvReluPool::WinogradTiles) => {
                "conv2d + relu + the next max pooling inside its 2x2 output tiles: winograd".into()
            }
            Plan::PooledByPrevious => "fused into the layer before".into(),
            Plan::MaxPool => "max pooling (windows)".into(),
            Plan::AvgPool => "average pooling (windows)".into(),
            Plan::Dense => "gemm (matrixmultiply) + bias".into(),
            Plan::Flatten => "reshape (no work)".into(),
            Plan::Dropout => "mask (training only)".into(),
        }
    }
}

fn conv_geometry(input: &[usize], l: &crate::layers::Conv2D) -> Option<Conv2dGeometry> {
    let Size2(kh, kw) = l.kernel_size;
    let &[h, w, c] = input else { return None };
    Conv2dGeometry::new(
        &[1, h, w, c],
        &[kh, kw, c, l.filters],
        (l.strides.0, l.strides.1),
        l.padding,
    )
    .ok()
}

impl Sequential {
    /// Each layer's name and plan, in order.
    pub fn plan(&self) -> Vec<(String, Plan)> {
        let layers = self.layers();
        let mut plans: Vec<(String, Plan)> = Vec::with_capacity(layers.len());
        // Set when the layer before took this layer's pooling into its op.
        let mut pooled_by_previous = false;
        for (k, entry) in layers.iter().enumerate() {
            if std::mem::take(&mut pooled_by_previous) {
                plans.push((entry.name.clone(), Plan::PooledByPrevious));
                continue;
            }
            let plan = match &entry.layer {
                Layer::Conv2D(l) => {
                    let g = conv_geometry(&entry.input_shape, l);
                    // Below the first layer with weights the input is the data (perhaps
                    // reshaped or dropped out), whose gradient nobody needs: no dx.
                    let need_dx = layers[..k]
                        .iter()
                        .any(|e| matches!(e.layer, Layer::Conv2D(_) | Layer::Dense(_)));
                    let kernel = g.map_or(
                        ConvKernels {
                            forward: ConvKernel::Im2colPatches,
                            backward: ConvKernel::Im2colPatches,
                        },
                        |g| conv_kernels(&g, l.algorithm, need_dx),
                    );
                    let next_pool = layers.get(k + 1).and_then(|next| match &next.layer {
                        Layer::MaxPooling2D(p) => Some(p),
                        _ => None,
                    });
                    let fused = match (g, next_pool, l.activation) {
                        (Some(g), Some(p), Activation::Relu) => {
                            let Size2(sh, sw) = p.strides.unwrap_or(p.pool_size);
                            Pool2dGeometry::new(
                                &g.y_shape(),
                                (p.pool_size.0, p.pool_size.1),
                                (sh, sw),
                                p.padding,
                            )
                            .ok()
                            .and_then(|pg| conv_relu_pool(&g, &pg, l.algorithm, need_dx))
                        }
                        _ => None,
                    };
                    match (fused, l.activation) {
                        (Some(f), _) => {
                            pooled_by_previous = true;
                            Plan::ConvReluPool(f)
                        }
                        (None, Activation::Relu) => Plan::ConvRelu(kernel),
                        (None, _) => Plan::Conv(kernel),
                    }
                }
                Layer::MaxPooling2D(_) => Plan::MaxPool,
                Layer::AveragePooling2D(_) => Plan::AvgPool,
                Layer::Dense(_) => Plan::Dense,
                Layer::Flatten(_) => Plan::Flatten,
                Layer::Dropout(_) => Plan::Dropout,
            };
            plans.push((entry.name.clone(), plan));
        }
        plans
    }

    /// The plan as a table, one layer a line: `conv2d  im2col (windows) conv2d + relu ...`.
    pub fn plan_table(&self) -> String {
        let plans = self.plan();
        let width = plans.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        let mut out =
            String::from("Plan (which kernel runs each layer; convlab_tensor::plan chooses):\n");
        for (name, plan) in plans {
            out.push_str(&format!(" {name:<width$}  {}\n", plan.describe()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{chapter_model, ConvAlgorithm};

    #[test]
    fn the_chapters_plan_fuses_each_convolution_with_its_pooling() {
        let plans: Vec<Plan> = chapter_model(1, ConvAlgorithm::Auto)
            .plan()
            .into_iter()
            .map(|(_, p)| p)
            .collect();
        assert!(matches!(
            plans[0],
            Plan::ConvReluPool(ConvReluPool::Chunks(_))
        ));
        assert_eq!(plans[1], Plan::PooledByPrevious);
        assert_eq!(plans[2], Plan::ConvReluPool(ConvReluPool::WinogradTiles));
        assert_eq!(plans[3], Plan::PooledByPrevious);
        assert_eq!(
            &plans[4..],
            [Plan::Flatten, Plan::Dense, Plan::Dropout, Plan::Dense]
        );
        // --conv reference: every convolution by the reference loops, still fused in chunks.
        let reference = chapter_model(1, ConvAlgorithm::Reference).plan();
        assert_eq!(
            reference[2].1,
            Plan::ConvReluPool(ConvReluPool::Chunks(ConvKernels {
                forward: ConvKernel::Reference,
                backward: ConvKernel::Reference
            }))
        );
    }
}
