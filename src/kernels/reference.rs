//! Naive oracles. Deliberately the plainest loops: every optimized kernel is tested against
//! these, so they must not share code or packing with the kernels they check.

use super::Clamp;

/// `W (c_out, c_in) @ X (c_in, hw) + b (c_out,) -> Y (c_out, hw)`, clamped, all row-major.
/// Accumulates bias first, then input channels in ascending order, like the kernels do.
pub fn conv1x1_chw(
    w: &[f32],
    bias: Option<&[f32]>,
    x: &[f32],
    y: &mut [f32],
    c_out: usize,
    c_in: usize,
    hw: usize,
    clamp: Clamp,
) {
    assert_eq!(w.len(), c_out * c_in, "reference: W (c_out, c_in)");
    assert!(
        x.len() >= c_in * hw && y.len() >= c_out * hw,
        "reference: X/Y too small"
    );
    for o in 0..c_out {
        for p in 0..hw {
            let mut acc = bias.map_or(0.0, |b| b[o]);
            for i in 0..c_in {
                acc += w[o * c_in + i] * x[i * hw + p];
            }
            y[o * hw + p] = clamp.apply(acc);
        }
    }
}
