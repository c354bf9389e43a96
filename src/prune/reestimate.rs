//! BatchNorm re-estimation in folded form. Pruning shifts and shrinks each output channel's
//! distribution; the BN that followed the conv would have re-normalized it with fresh running
//! statistics. BN is folded into the conv at import, so the same correction is applied to the
//! folded weights: per output channel, an affine map that gives the pruned layer's output the
//! mean and standard deviation the dense network's output had on the calibration data.

/// Running per-channel Σy and Σy² over calibration pixels (f64: hundreds of thousands of terms).
#[derive(Debug, Clone)]
pub struct ChannelStats {
    /// (c,)
    sum: Vec<f64>,
    /// (c,)
    sum_sq: Vec<f64>,
    /// Pixels seen per channel.
    count: usize,
}

/// Channels need this many samples before their spread is trusted; with fewer (a `Linear`
/// sees one sample per calibration image) only the mean is corrected.
const MIN_SAMPLES_FOR_SCALE: usize = 64;

impl ChannelStats {
    pub fn new(c: usize) -> ChannelStats {
        ChannelStats {
            sum: vec![0.0; c],
            sum_sq: vec![0.0; c],
            count: 0,
        }
    }

    /// Adds one output `y (c, hw)`.
    pub fn add(&mut self, y: &[f32], hw: usize) {
        for (ch, row) in y.chunks_exact(hw).enumerate() {
            let (s, q) = row.iter().fold((0.0f64, 0.0f64), |(s, q), &v| {
                let v = v as f64;
                (s + v, q + v * v)
            });
            self.sum[ch] += s;
            self.sum_sq[ch] += q;
        }
        self.count += hw;
    }

    /// (mean, std) of channel `ch`.
    fn moments(&self, ch: usize) -> (f64, f64) {
        let n = self.count.max(1) as f64;
        let mean = self.sum[ch] / n;
        let var = (self.sum_sq[ch] / n - mean * mean).max(0.0);
        (mean, var.sqrt())
    }
}

/// Per-channel `(scale a (c,), shift t (c,))` with `a·y_pruned + t` matching `dense`'s mean
/// and std. A channel the pruning flattened to a constant keeps scale 1 rather than blowing up.
pub fn correction(pruned: &ChannelStats, dense: &ChannelStats) -> (Vec<f32>, Vec<f32>) {
    let use_scale = pruned.count >= MIN_SAMPLES_FOR_SCALE;
    (0..pruned.sum.len())
        .map(|ch| {
            let (m_p, s_p) = pruned.moments(ch);
            let (m_d, s_d) = dense.moments(ch);
            let a = if use_scale && s_p > 1e-6 * (s_d + 1e-12) && s_d > 0.0 {
                s_d / s_p
            } else {
                1.0
            };
            (a as f32, (m_d - a * m_p) as f32)
        })
        .unzip()
}

/// Folds the correction into `w (c_out, c_in)` and `b (c_out,)`: row o scales by a[o], and
/// b[o] becomes a[o]·b[o] + t[o].
pub fn fold(w: &mut [f32], b: &mut [f32], c_in: usize, scale: &[f32], shift: &[f32]) {
    for (o, row) in w.chunks_exact_mut(c_in).enumerate() {
        row.iter_mut().for_each(|v| *v *= scale[o]);
        b[o] = b[o] * scale[o] + shift[o];
    }
}
