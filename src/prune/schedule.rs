//! Per-layer sparsity. Uniform is the default; an explicit map overrides chosen layers; and
//! `ProtectSmall` prunes small layers less and large ones more, at the same global sparsity.
//!
//! Why: in MobileNetV2 the small early projection layers (e.g. 32→16 and 96→24 channels, a few
//! thousand weights each, at 112×112 and 56×56) are the fragile ones: every later layer reads
//! their few channels, and they have little redundancy. They hold a tiny share of the weights,
//! so sparing them costs almost nothing in model size.
//!
//! The `ProtectSmall` rule: layer l with n_l weights gets
//!
//! ```text
//!   s_l = min(cap, t · (n_l / n_max)^ALPHA),   cap = max(s, min(0.95, (1 + s) / 2))
//! ```
//!
//! with t found by bisection so that Σ s_l·n_l = s·Σ n_l: the global sparsity over all
//! pruned weights is the target s. ALPHA = 1/4 makes a layer 256× smaller than the largest get
//! a quarter of its sparsity; the cap keeps the largest layers (FC, last 1x1) from being
//! emptied to pay for it.

use super::{bad_arg, check_sparsity, Layer};
use crate::error::Result;
use std::collections::BTreeMap;

/// How `prune` spreads the target sparsity over layers.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// Every layer gets the target.
    Uniform,
    /// Named layers (node names) get their own sparsity; the rest get the target.
    PerLayer(BTreeMap<String, f32>),
    /// Sparsity grows with layer size; the weighted mean is the target (see module docs).
    ProtectSmall,
}

/// Exponent of the size ratio in `ProtectSmall`.
const ALPHA: f64 = 0.25;

impl Schedule {
    pub(super) fn validate(&self) -> Result<()> {
        if let Schedule::PerLayer(map) = self {
            for (name, &s) in map {
                check_sparsity(&format!("sparsity of layer {name}"), s)?;
            }
        }
        Ok(())
    }

    /// The sparsity of each of `layers` for a target of `s`.
    pub fn sparsities(&self, layers: &[Layer], s: f32) -> Result<Vec<f32>> {
        check_sparsity("sparsity", s)?;
        self.validate()?;
        match self {
            Schedule::Uniform => Ok(vec![s; layers.len()]),
            Schedule::PerLayer(map) => {
                if let Some(name) = map.keys().find(|k| !layers.iter().any(|l| &l.name == *k)) {
                    return Err(bad_arg(
                        "schedule",
                        format!(
                            "layer {name:?} is not a pointwise conv or linear layer of the model"
                        ),
                    ));
                }
                Ok(layers
                    .iter()
                    .map(|l| map.get(&l.name).copied().unwrap_or(s))
                    .collect())
            }
            Schedule::ProtectSmall => Ok(protect_small(layers, s as f64)),
        }
    }
}

fn protect_small(layers: &[Layer], s: f64) -> Vec<f32> {
    let n: Vec<f64> = layers.iter().map(|l| l.weights() as f64).collect();
    let n_max = n.iter().copied().fold(0.0, f64::max);
    if layers.is_empty() || n_max == 0.0 || s == 0.0 {
        return vec![s as f32; layers.len()];
    }
    let cap = ((1.0 + s) / 2.0).min(0.95).max(s);
    let rel: Vec<f64> = n.iter().map(|&v| (v / n_max).powf(ALPHA)).collect();
    let at = |t: f64| -> Vec<f64> { rel.iter().map(|r| (t * r).min(cap)).collect() };
    let global = |t: f64| -> f64 {
        at(t).iter().zip(&n).map(|(s, n)| s * n).sum::<f64>() / n.iter().sum::<f64>()
    };
    // global(t) rises monotonically from 0 (t = 0) to cap > s (t = cap / min rel).
    let (mut lo, mut hi) = (0.0, cap / rel.iter().copied().fold(f64::INFINITY, f64::min));
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if global(mid) < s {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    at(hi).into_iter().map(|v| v as f32).collect()
}
