//! Calibration of activation sparsity ([`crate::llm::act`]): one dense pass over calibration
//! text records, for every thresholded input site, a histogram of |x| (TEAL) or of
//! |silu(gate)| (gate method), then thresholds are chosen per site to meet a global target.
//!
//! **Histograms.** A bin is the top 13 bits of |x|'s f32 pattern (8 exponent bits, 5 mantissa
//! bits): 32 bins per octave, monotonic in |x|, no logarithm. Each bin keeps the count of
//! entries and their energy Σ c_j x_j², where c_j = ‖W[:, j]‖² summed over the matrices that
//! read the site (W_q, W_k, W_v at the attention input): dropping x_j moves those outputs by
//! x_j W[:, j], so the energy below a threshold, over the site's total, estimates the relative
//! output error that threshold costs (TEAL measures that error directly; this is its
//! closed-form proxy, which needs no second pass). Gate method: the histogram is keyed by
//! |silu(gate_i)| and the energy is W_down's c_i h_i², h = silu(gate) ⊙ up. WINA: keyed by
//! |x_j|·√c_j, whose square is the energy, so each threshold drops the least energy for its
//! count; √c_j are the scales the file stores.
//!
//! **Allocation.** The target is the mean sparsity of the sites' inputs weighted by the
//! multiply-adds a zero saves there. `Uniform` gives every site the target; `Greedy` (TEAL's)
//! starts every site at 0 and repeatedly raises, by [`STEP`], the site whose next step costs
//! the least estimated error per multiply-add saved, until the target is met (no site past
//! [`MAX_SITE_SPARSITY`]).

use crate::error::{Error, Result};
use crate::llm::act::{ActMethod, ActSparsity};
use crate::llm::llama::{Llama, Site, Tap};
use crate::llm::weights::{decode_row, Linear};

/// Bins per histogram: |x|'s f32 bits >> [`SHIFT`].
const BINS: usize = 1 << 13;
const SHIFT: u32 = 18;
/// Sparsity step of the greedy allocation and of the per-site curves.
pub const STEP: f32 = 0.01;
/// The most any one site may be sparsified.
pub const MAX_SITE_SPARSITY: f32 = 0.9;

/// How the target is spread over the sites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActAllocation {
    Uniform,
    Greedy,
}

crate::parse_names!(ActAllocation, "activation allocation", [
    "greedy" => ActAllocation::Greedy,
    "uniform" => ActAllocation::Uniform,
]);

#[derive(Debug, Clone)]
struct Hist {
    /// (BINS,) entries per bin
    count: Vec<u64>,
    /// (BINS,) Σ c_j x_j² per bin
    energy: Vec<f64>,
}

impl Hist {
    fn new() -> Hist {
        Hist {
            count: vec![0; BINS],
            energy: vec![0.0; BINS],
        }
    }
}

#[inline]
fn bin(v: f32) -> usize {
    (v.abs().to_bits() >> SHIFT) as usize
}

/// The lowest |x| of bin `b + 1`: a threshold that zeroes bins `0..=b` exactly.
fn upper_edge(b: usize) -> f32 {
    f32::from_bits(((b + 1) as u32) << SHIFT)
}

/// Histograms of every thresholded site of a model, from a dense pass.
#[derive(Debug)]
pub struct ActCalibration {
    pub method: ActMethod,
    pub n_layers: usize,
    /// (n_layers · 4,) index `layer · 4 + site`; gate: only FfnMid's are filled
    hists: Vec<Hist>,
    /// (n_layers · 4,) multiply-adds one zero saves at the site
    macs: Vec<f64>,
    /// (n_layers · 4,) √c_j per input channel (WINA's scales; empty for other methods)
    scales: Vec<Vec<f32>>,
    pub tokens: usize,
}

struct Collector<'a> {
    method: ActMethod,
    hists: &'a mut [Hist],
    /// (n_layers · 4,) c_j per site (empty where unused)
    weights: &'a [Vec<f64>],
    /// (n_layers · 4,) √c_j per site (WINA)
    scales: &'a [Vec<f32>],
    /// (ffn,) silu(gate) of the current layer (gate method)
    silu_gate: Vec<f32>,
}

impl Tap for Collector<'_> {
    fn see(&mut self, layer: usize, site: Site, x: &[f32]) {
        let i = layer * 4 + site.index();
        let (h, c) = (&mut self.hists[i], &self.weights[i]);
        match self.method {
            ActMethod::Teal => {
                for (&v, &cj) in x.iter().zip(c) {
                    let b = bin(v);
                    h.count[b] += 1;
                    h.energy[b] += cj * (v as f64) * (v as f64);
                }
            }
            ActMethod::Wina => {
                for ((&v, &cj), &sj) in x.iter().zip(c).zip(&self.scales[i]) {
                    let b = bin(v * sj);
                    h.count[b] += 1;
                    h.energy[b] += cj * (v as f64) * (v as f64);
                }
            }
            ActMethod::Gate if site == Site::FfnMid => {
                for ((&v, &g), &cj) in x.iter().zip(&self.silu_gate).zip(c) {
                    let b = bin(g);
                    h.count[b] += 1;
                    h.energy[b] += cj * (v as f64) * (v as f64);
                }
            }
            ActMethod::Gate => {}
        }
    }

    fn see_gate(&mut self, _layer: usize, silu_gate: &[f32]) {
        if self.method == ActMethod::Gate {
            self.silu_gate.clear();
            self.silu_gate.extend_from_slice(silu_gate);
        }
    }
}

/// Σ_r W[r, j]² per column j of `lin`.
fn col_norms2(model: &Llama, lin: &Linear) -> Vec<f64> {
    let cols = lin.cols();
    let mut out = vec![0.0f64; cols];
    let mut add = |row: &[f32]| {
        for (o, &v) in out.iter_mut().zip(row) {
            *o += (v as f64) * (v as f64);
        }
    };
    match lin {
        Linear::Dense(m) => {
            let data = m.data(model.weights.file());
            let rb = m.row_bytes();
            let mut row = vec![0.0f32; cols];
            for r in 0..m.rows {
                decode_row(m.ty, &data[r * rb..(r + 1) * rb], &mut row);
                add(&row);
            }
        }
        Linear::Sparse(m) => m.decode().chunks_exact(cols).for_each(&mut add),
    }
    out
}

/// Element-wise sum of column norms.
fn sum_norms(model: &Llama, lins: &[&Linear]) -> Vec<f64> {
    let mut out = vec![0.0; lins[0].cols()];
    for l in lins {
        for (o, v) in out.iter_mut().zip(col_norms2(model, l)) {
            *o += v;
        }
    }
    out
}

impl ActCalibration {
    /// Runs `model` (without thresholds) on `tokens` in sequences of at most `seq_len`, each
    /// from a fresh session, and fills the histograms. `progress(done)` after each sequence.
    pub fn collect(
        model: &Llama,
        method: ActMethod,
        tokens: &[u32],
        seq_len: usize,
        mut progress: impl FnMut(usize),
    ) -> Result<ActCalibration> {
        super::calib::check_tokens(tokens, seq_len)?;
        if model.act().is_some() {
            return Err(Error::BadCalibration {
                detail: "the model already has activation thresholds: calibrate on the dense \
                         model"
                    .into(),
            });
        }
        let c = &model.cfg;
        let n_layers = c.n_layers;
        let mut weights = Vec::with_capacity(4 * n_layers);
        let mut macs = Vec::with_capacity(4 * n_layers);
        for lw in &model.weights.layers {
            let sites: [(&[&Linear], Site); 4] = [
                (&[&lw.wq, &lw.wk, &lw.wv], Site::AttnIn),
                (&[&lw.wo], Site::AttnOut),
                (&[&lw.w_gate, &lw.w_up], Site::FfnIn),
                (&[&lw.w_down], Site::FfnMid),
            ];
            for (lins, site) in sites {
                let used = method.sites().contains(&site);
                weights.push(if used {
                    sum_norms(model, lins)
                } else {
                    Vec::new()
                });
                let n = lins[0].cols();
                let mut rows: usize = lins.iter().map(|m| m.rows()).sum();
                if method == ActMethod::Gate && site == Site::FfnMid {
                    rows += lw.w_up.cols(); // a dropped channel skips its W_up row too
                }
                macs.push(if used { (n * rows) as f64 } else { 0.0 });
            }
        }
        let scales: Vec<Vec<f32>> = if method == ActMethod::Wina {
            weights
                .iter()
                .map(|c| {
                    c.iter()
                        .map(|&v| (v.sqrt() as f32).max(f32::MIN_POSITIVE))
                        .collect()
                })
                .collect()
        } else {
            Vec::new()
        };
        let mut hists = vec![Hist::new(); 4 * n_layers];
        let seq_len = seq_len.min(c.context_length);
        let mut s = model.session(seq_len)?;
        let mut col = Collector {
            method,
            hists: &mut hists,
            weights: &weights,
            scales: &scales,
            silu_gate: Vec::with_capacity(c.ffn_dim),
        };
        let mut done = 0;
        for seq in tokens.chunks(seq_len) {
            s.reset();
            model.prefill_tapped(&mut s, seq, &mut col)?;
            done += seq.len();
            progress(done);
        }
        Ok(ActCalibration {
            method,
            n_layers,
            hists,
            macs,
            scales,
            tokens: done,
        })
    }

    /// Per site, at sparsity k·STEP for k = 0..=K: (threshold, fraction zeroed, fraction of
    /// the energy zeroed).
    fn curve(&self, i: usize) -> Vec<(f32, f32, f64)> {
        let h = &self.hists[i];
        let n: u64 = h.count.iter().sum();
        let e: f64 = h.energy.iter().sum();
        let k_max = (MAX_SITE_SPARSITY / STEP).round() as usize;
        let mut out = vec![(0.0, 0.0, 0.0)];
        let (mut b, mut cn, mut ce) = (0usize, 0u64, 0.0f64);
        for k in 1..=k_max {
            let want = (k as f64 * STEP as f64 * n as f64).ceil() as u64;
            while cn < want && b < BINS {
                cn += h.count[b];
                ce += h.energy[b];
                b += 1;
            }
            if b == 0 || n == 0 {
                out.push(out[k - 1]);
                continue;
            }
            out.push((
                upper_edge(b - 1),
                cn as f32 / n as f32,
                ce / e.max(f64::MIN_POSITIVE),
            ));
        }
        out
    }

    /// Thresholds meeting `target` (the MAC-weighted mean sparsity of the sites), spread by
    /// `alloc`.
    pub fn allocate(&self, target: f32, alloc: ActAllocation) -> Result<ActSparsity> {
        if !(0.0..MAX_SITE_SPARSITY).contains(&target) {
            return Err(Error::BadArgument {
                what: "activation sparsity".into(),
                detail: format!("{target} is outside [0, {MAX_SITE_SPARSITY})"),
            });
        }
        let sites: Vec<usize> = (0..4 * self.n_layers)
            .filter(|&i| self.macs[i] > 0.0)
            .collect();
        let curves: Vec<Vec<(f32, f32, f64)>> = sites.iter().map(|&i| self.curve(i)).collect();
        let total: f64 = sites.iter().map(|&i| self.macs[i]).sum();
        // level (k) of each site
        let mut level = vec![0usize; sites.len()];
        match alloc {
            ActAllocation::Uniform => {
                let k = (target / STEP).round() as usize;
                level.iter_mut().for_each(|l| *l = k);
            }
            ActAllocation::Greedy => {
                let k_max = curves[0].len() - 1;
                let need = target as f64 * total;
                let mut have = 0.0f64;
                while have + 1e-9 < need {
                    // the cheapest next step: Δerror / Δmacs
                    let best = (0..sites.len())
                        .filter(|&j| level[j] < k_max)
                        .min_by(|&a, &b| {
                            let cost = |j: usize| {
                                let c = &curves[j];
                                (c[level[j] + 1].2 - c[level[j]].2) / self.macs[sites[j]]
                            };
                            cost(a).total_cmp(&cost(b))
                        });
                    let Some(j) = best else { break };
                    level[j] += 1;
                    have += STEP as f64 * self.macs[sites[j]];
                }
            }
        }
        let mut thresholds = vec![[0.0f32; 4]; self.n_layers];
        let mut calibrated = vec![[0.0f32; 4]; self.n_layers];
        for ((&i, c), &k) in sites.iter().zip(&curves).zip(&level) {
            thresholds[i / 4][i % 4] = c[k].0;
            calibrated[i / 4][i % 4] = c[k].1;
        }
        Ok(ActSparsity {
            method: self.method,
            target,
            thresholds,
            calibrated,
            scales: self.scales.clone(),
        })
    }

    /// Thresholds giving each site kind its own sparsity (`per_kind[site]`, every layer alike;
    /// a kind the method does not threshold must be 0). The recorded target is the
    /// MAC-weighted mean they give.
    pub fn allocate_per_kind(&self, per_kind: [f32; 4]) -> Result<ActSparsity> {
        for (k, &t) in per_kind.iter().enumerate() {
            let used = (0..self.n_layers).any(|l| self.macs[l * 4 + k] > 0.0);
            if !(0.0..MAX_SITE_SPARSITY).contains(&t) || (!used && t > 0.0) {
                return Err(Error::BadArgument {
                    what: "activation sparsity per site kind".into(),
                    detail: format!(
                        "site {k}: {t} is outside [0, {MAX_SITE_SPARSITY}) or not a site of {}",
                        self.method.name()
                    ),
                });
            }
        }
        let mut a = self.allocate(0.0, ActAllocation::Uniform)?;
        for i in (0..4 * self.n_layers).filter(|&i| self.macs[i] > 0.0) {
            let c = self.curve(i);
            let k = (per_kind[i % 4] / STEP).round() as usize;
            a.thresholds[i / 4][i % 4] = c[k].0;
            a.calibrated[i / 4][i % 4] = c[k].1;
        }
        a.target = (self.met(&a) as f32).min(MAX_SITE_SPARSITY - STEP);
        Ok(a)
    }

    /// The MAC-weighted mean of the calibrated zero fractions of `a` (what the target asks).
    pub fn met(&self, a: &ActSparsity) -> f64 {
        let (mut num, mut den) = (0.0, 0.0);
        for i in 0..4 * self.n_layers {
            num += self.macs[i] * a.calibrated[i / 4][i % 4] as f64;
            den += self.macs[i];
        }
        num / den.max(1.0)
    }
}

/// First 8 bytes of an activation-calibration cache file.
const CACHE_MAGIC: &[u8; 8] = b"ZSKACT03";

impl ActCalibration {
    /// Serializes the histograms under `key` (what they were computed from), so a sweep over
    /// targets calibrates once and a stale cache is never used.
    pub fn save(&self, path: &std::path::Path, key: &str) -> Result<()> {
        let mut b = Vec::new();
        b.extend_from_slice(CACHE_MAGIC);
        b.extend_from_slice(&(key.len() as u64).to_le_bytes());
        b.extend_from_slice(key.as_bytes());
        b.push(self.method as u8);
        for v in [self.n_layers, self.tokens] {
            b.extend_from_slice(&(v as u64).to_le_bytes());
        }
        for i in 0..4 * self.n_layers {
            b.extend_from_slice(&self.macs[i].to_le_bytes());
            self.hists[i]
                .count
                .iter()
                .for_each(|c| b.extend_from_slice(&c.to_le_bytes()));
            self.hists[i]
                .energy
                .iter()
                .for_each(|e| b.extend_from_slice(&e.to_le_bytes()));
            let sc = self.scales.get(i).map_or(&[][..], |v| v.as_slice());
            b.extend_from_slice(&(sc.len() as u64).to_le_bytes());
            sc.iter()
                .for_each(|v| b.extend_from_slice(&v.to_le_bytes()));
        }
        std::fs::write(path, b).map_err(|e| Error::Io {
            file: path.display().to_string(),
            detail: e.to_string(),
        })
    }

    /// Reads a cache written by [`ActCalibration::save`] with the same `key` and `method`;
    /// `Ok(None)` when missing or made from something else. Sizes are checked before use.
    pub fn load(path: &std::path::Path, key: &str, method: ActMethod) -> Result<Option<Self>> {
        let Ok(bytes) = std::fs::read(path) else {
            return Ok(None);
        };
        let bad = || Error::Io {
            file: path.display().to_string(),
            detail: "activation calibration cache: truncated or corrupt".into(),
        };
        let mut at = 0usize;
        let mut take = |n: usize| -> Result<&[u8]> {
            let s = bytes
                .get(at..at.checked_add(n).ok_or_else(bad)?)
                .ok_or_else(bad)?;
            at += n;
            Ok(s)
        };
        let u64_of = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
        if take(8)? != CACHE_MAGIC {
            return Ok(None);
        }
        let klen = u64_of(take(8)?) as usize;
        if take(klen)? != key.as_bytes() || take(1)?[0] != method as u8 {
            return Ok(None);
        }
        let n_layers = u64_of(take(8)?) as usize;
        let tokens = u64_of(take(8)?) as usize;
        if n_layers > 1 << 12 {
            return Err(bad());
        }
        let (mut hists, mut macs) = (Vec::new(), Vec::new());
        let mut scales = Vec::new();
        for _ in 0..4 * n_layers {
            macs.push(f64::from_le_bytes(take(8)?.try_into().expect("8 bytes")));
            let count = take(8 * BINS)?.chunks_exact(8).map(u64_of).collect();
            let energy = take(8 * BINS)?
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect();
            hists.push(Hist { count, energy });
            let n = u64_of(take(8)?) as usize;
            let sc: Vec<f32> = take(n.checked_mul(4).ok_or_else(bad)?)?
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect();
            if method == ActMethod::Wina {
                scales.push(sc);
            }
        }
        Ok(Some(ActCalibration {
            method,
            n_layers,
            hists,
            macs,
            scales,
            tokens,
        }))
    }
}
