//! Picking the next token from logits: greedy, or a seeded draw after temperature, top-k and
//! top-p (nucleus) filtering.
//!
//! A draw, for `temperature > 0`:
//! 1. candidates: the `top_k` largest logits (all when `top_k` is 0 or ≥ vocab);
//! 2. `p_i ∝ exp((l_i − max) / temperature)` over the candidates;
//! 3. top-p: candidates by probability, largest first (ties: lower id first), cut after the
//!    shortest prefix whose mass reaches `top_p` (always at least one token); renormalized;
//! 4. one uniform draw in [0, 1) walks the cumulative mass.
//!
//! `temperature = 0` is greedy: the largest logit, the lowest id among equals. `top_k = 1` and
//! a tiny `top_p` also reduce to it.
//!
//! **Deterministic across targets.** The generator is our own (SplitMix64), and the
//! exponential is our own polynomial in f64 ([`exp`]), so a given seed draws the same tokens
//! natively and in wasm (`std`'s `exp` calls the platform's libm, which may differ in the last
//! bit). Every sort breaks ties by id.
//!
//! **No allocation per token**: the candidate buffer is sized to the vocabulary on the first
//! call and reused.

use crate::error::{Error, Result};

/// Sampling parameters. The default is greedy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplerConfig {
    /// 0 = greedy; otherwise a finite value > 0 (1 = the model's distribution).
    pub temperature: f32,
    /// Keep the `top_k` most likely tokens; 0 = no limit.
    pub top_k: usize,
    /// Nucleus mass in (0, 1]; 1 = no limit.
    pub top_p: f32,
    /// Seed of the generator.
    pub seed: u64,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        SamplerConfig {
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
            seed: 0,
        }
    }
}

impl SamplerConfig {
    /// Checks the parameters; errors name the one that is out of range.
    pub fn validate(&self) -> Result<()> {
        let t = self.temperature;
        if !(t.is_finite() && t >= 0.0) {
            return Err(Error::BadArgument {
                what: "temperature".into(),
                detail: format!("{t} is not a finite number ≥ 0 (0 = greedy)"),
            });
        }
        let p = self.top_p;
        if !(p > 0.0 && p <= 1.0) {
            return Err(Error::BadArgument {
                what: "top-p".into(),
                detail: format!("{p} is not in (0, 1] (1 = off)"),
            });
        }
        Ok(())
    }
}

/// SplitMix64: a tiny seeded generator, identical on every target.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1), 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// e^x in f64 from IEEE + − × only (bit-identical on every target): x = k·ln2 + r with
/// |r| ≤ ln2/2, a degree-13 Taylor polynomial for e^r (relative error < 1e-15), times 2^k.
pub fn exp(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    if x > 709.79 {
        return f64::INFINITY;
    }
    if x < -745.2 {
        return 0.0;
    }
    const LN2_HI: f64 = 6.931_471_803_691_238e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    let k = (x * std::f64::consts::LOG2_E).round();
    let r = (x - k * LN2_HI) - k * LN2_LO;
    let mut p = 1.0;
    for i in (1..=13).rev() {
        p = 1.0 + p * r / i as f64;
    }
    // 2^k, in two steps when k is below the normal range
    let k = k as i64;
    let pow2 = |e: i64| f64::from_bits(((e + 1023) as u64) << 52);
    if k < -1020 {
        p * pow2(k + 60) * pow2(-60)
    } else if k > 1023 {
        p * pow2(k - 1) * 2.0
    } else {
        p * pow2(k)
    }
}

/// Picks tokens from logits; see the module docs.
#[derive(Debug, Clone)]
pub struct Sampler {
    cfg: SamplerConfig,
    rng: SplitMix64,
    /// (vocab,) candidate ids, then their order by probability
    cand: Vec<u32>,
    /// (vocab,) candidate probabilities, by id
    prob: Vec<f64>,
}

impl Sampler {
    /// A sampler; errors if the parameters are out of range.
    pub fn new(cfg: SamplerConfig) -> Result<Sampler> {
        cfg.validate()?;
        Ok(Sampler {
            cfg,
            rng: SplitMix64::new(cfg.seed),
            cand: Vec::new(),
            prob: Vec::new(),
        })
    }

    /// The greedy sampler.
    pub fn greedy() -> Sampler {
        Sampler::new(SamplerConfig::default()).expect("the default is valid")
    }

    pub fn config(&self) -> &SamplerConfig {
        &self.cfg
    }

    /// The next token. Errors on empty logits or a NaN logit.
    pub fn sample(&mut self, logits: &[f32]) -> Result<u32> {
        if logits.is_empty() || logits.len() > u32::MAX as usize {
            return Err(Error::BadArgument {
                what: "logits".into(),
                detail: format!("{} values; expected 1 to 2^32 − 1", logits.len()),
            });
        }
        if let Some(i) = logits.iter().position(|v| v.is_nan()) {
            return Err(Error::Numerical {
                layer: "logits".into(),
                detail: format!("logit {i} is NaN"),
            });
        }
        let best = argmax(logits);
        let c = self.cfg;
        if c.temperature == 0.0 || c.top_k == 1 || !logits[best].is_finite() {
            return Ok(best as u32);
        }
        let n = logits.len();
        if self.cand.len() < n {
            // once per sampler (or per larger vocabulary): not per token
            self.cand.resize(n, 0);
            self.prob.resize(n, 0.0);
        }
        let cand = &mut self.cand[..n];
        for (i, c) in cand.iter_mut().enumerate() {
            *c = i as u32;
        }
        // 1. top-k: the k largest logits (ties: lower id), in no particular order
        let mut m = n;
        if c.top_k > 0 && c.top_k < n {
            let by_logit = |a: &u32, b: &u32| {
                logits[*b as usize]
                    .total_cmp(&logits[*a as usize])
                    .then(a.cmp(b))
            };
            cand.select_nth_unstable_by(c.top_k - 1, by_logit);
            m = c.top_k;
            // in id order, as without top-k: the walk of step 4 and the sum of step 2 then
            // depend on the candidates alone, not on how the selection left them, so
            // `sample_top` reproduces them from the GPU's k best
            cand[..m].sort_unstable();
        }
        let cand = &mut cand[..m];
        // 2. probabilities with temperature (by id, in `prob`)
        let max = logits[best] as f64;
        let inv_t = 1.0 / c.temperature as f64;
        let mut total = 0.0;
        for &i in cand.iter() {
            let p = exp((logits[i as usize] as f64 - max) * inv_t);
            self.prob[i as usize] = p;
            total += p;
        }
        Ok(self.finish(m, total))
    }

    /// Steps 3 and 4 over the first `m` candidates of `cand` (in id order), their
    /// probabilities in `prob` by id and their sum `total`.
    fn finish(&mut self, mut m: usize, total: f64) -> u32 {
        let c = self.cfg;
        let cand = &mut self.cand[..m];
        // 3. top-p: the smallest most-likely prefix with mass ≥ top_p
        let prob = &self.prob;
        let mut mass = total;
        if c.top_p < 1.0 {
            // Only tokens with p ≥ (1 − top_p)/(m − 1) of the total can be in the nucleus
            // (llama2.c's cut): sort just those. Capped at the best token's 1 (e^0): with
            // top_p < 1/m the cut could pass every token (two tied candidates and top_p 0.3
            // kept none, and the draw indexed an empty list).
            let cutoff = if m > 1 {
                ((1.0 - c.top_p as f64) / (m - 1) as f64 * total).min(1.0)
            } else {
                0.0
            };
            let mut kept = 0;
            for j in 0..m {
                if prob[cand[j] as usize] >= cutoff {
                    cand.swap(kept, j);
                    kept += 1;
                }
            }
            let cand = &mut cand[..kept];
            cand.sort_unstable_by(|a, b| {
                prob[*b as usize]
                    .total_cmp(&prob[*a as usize])
                    .then(a.cmp(b))
            });
            let goal = c.top_p as f64 * total;
            let mut acc = 0.0;
            let mut cut = kept;
            for (j, &i) in cand.iter().enumerate() {
                acc += prob[i as usize];
                if acc >= goal {
                    cut = j + 1;
                    break;
                }
            }
            m = cut.max(1);
            mass = cand[..m].iter().map(|&i| prob[i as usize]).sum();
        }
        // 4. one draw over the first m candidates
        let u = self.rng.next_f64() * mass;
        let mut acc = 0.0;
        for &i in &self.cand[..m] {
            acc += prob[i as usize];
            if u < acc {
                return i;
            }
        }
        self.cand[m - 1] // rounding left u ≥ the sum: the last candidate
    }

    /// [`Sampler::sample`] from the best candidates only (the GPU's top-k readback): `top`
    /// holds the `top.len()` largest logits of a `vocab`-sized vector as (id, logit), by logit
    /// descending and id ascending among equals, and `total` is Σ over the whole vocab of
    /// e^((l − max) / temperature) (used only when the sampler keeps more than `top`).
    ///
    /// When the sampler's candidates are all in `top` (greedy, or top_k ≤ `top.len()`, or a
    /// vocab that small) the token and the random draw are exactly `sample`'s on the full
    /// logits. Otherwise (top_k = 0 or ≥ vocab) only a top-p nucleus that surely ends inside
    /// `top` can be drawn: its cut is decided with `total` (an f32 sum on the GPU), so a cut
    /// within [`SAMPLE_TOP_MARGIN`] of the goal, or a nucleus member near top-p's cutoff or
    /// tied with an unseen token, gives `None`, as does any draw over more than `top`; `None`
    /// leaves the random stream untouched, for the caller's `sample` on the full logits.
    /// Errors on an empty `top`, more candidates than `vocab`, an id past it, a NaN.
    pub fn sample_top(
        &mut self,
        top: &[(u32, f32)],
        total: f64,
        vocab: usize,
    ) -> Result<Option<u32>> {
        if top.is_empty() || top.len() > vocab || vocab > u32::MAX as usize {
            return Err(Error::BadArgument {
                what: "top-k candidates".into(),
                detail: format!(
                    "{} candidates of a vocab of {vocab}; expected 1 to the vocab",
                    top.len()
                ),
            });
        }
        if let Some(&(i, _)) = top.iter().find(|(i, _)| *i as usize >= vocab) {
            return Err(Error::DimOutOfRange {
                tensor: "top-k candidates".into(),
                what: "token id".into(),
                value: i as u64,
                limit: format!("below the vocabulary size {vocab}"),
            });
        }
        if let Some(&(i, _)) = top.iter().find(|(_, l)| l.is_nan()) {
            return Err(Error::Numerical {
                layer: "logits".into(),
                detail: format!("logit {i} is NaN"),
            });
        }
        let c = self.cfg;
        let (best, best_logit) = top[0];
        if c.temperature == 0.0 || c.top_k == 1 || !best_logit.is_finite() {
            return Ok(Some(best));
        }
        let max = best_logit as f64;
        let inv_t = 1.0 / c.temperature as f64;
        let k = if c.top_k > 0 && c.top_k < vocab {
            c.top_k
        } else {
            vocab
        };
        if self.prob.len() < vocab {
            // once per sampler (or per larger vocabulary), as in `sample`
            self.prob.resize(vocab, 0.0);
        }
        if self.cand.len() < top.len() {
            self.cand.resize(top.len(), 0);
        }
        if k <= top.len() {
            // every candidate is known: steps 2–4 of `sample` on them, in id order
            let cand = &mut self.cand[..k];
            for (c, &(i, _)) in cand.iter_mut().zip(top) {
                *c = i;
            }
            cand.sort_unstable();
            for &(i, l) in &top[..k] {
                self.prob[i as usize] = exp((l as f64 - max) * inv_t);
            }
            let total = self.cand[..k].iter().map(|&i| self.prob[i as usize]).sum();
            return Ok(Some(self.finish(k, total)));
        }
        if c.top_k != 0 && c.top_k < vocab || c.top_p >= 1.0 || !(total.is_finite() && total > 0.0)
        {
            // a top-k beyond `top` sums over candidates we do not have; no top-p walks the
            // whole vocab in id order
            return Ok(None);
        }
        // top-p over the whole vocab: `top` is the most likely prefix of `sample`'s sort
        let n = top.len();
        for (j, &(i, l)) in top.iter().enumerate() {
            self.cand[j] = i;
            self.prob[i as usize] = exp((l as f64 - max) * inv_t);
        }
        let prob = &self.prob;
        let cand = &mut self.cand[..n];
        cand.sort_unstable_by(|a, b| {
            prob[*b as usize]
                .total_cmp(&prob[*a as usize])
                .then(a.cmp(b))
        });
        let lo = 1.0 - SAMPLE_TOP_MARGIN;
        let hi = 1.0 + SAMPLE_TOP_MARGIN;
        let goal = c.top_p as f64 * total;
        let cutoff = ((1.0 - c.top_p as f64) / (vocab - 1) as f64 * total).min(1.0);
        let least = prob[cand[n - 1] as usize];
        let mut acc = 0.0;
        let mut cut = None;
        for (j, &i) in cand.iter().enumerate() {
            let p = prob[i as usize];
            // the member must surely pass top-p's cutoff, and no unseen token may tie it
            if (p < cutoff * hi && p < 1.0) || p <= least {
                return Ok(None);
            }
            let before = acc;
            acc += p;
            if acc >= goal * lo {
                if acc < goal * hi || (j > 0 && before >= goal * lo) {
                    return Ok(None);
                }
                cut = Some(j + 1);
                break;
            }
        }
        let Some(m) = cut else { return Ok(None) };
        let mass: f64 = cand[..m].iter().map(|&i| prob[i as usize]).sum();
        let u = self.rng.next_f64() * mass;
        let mut acc = 0.0;
        for &i in &cand[..m] {
            acc += prob[i as usize];
            if u < acc {
                return Ok(Some(i));
            }
        }
        Ok(Some(cand[m - 1]))
    }
}

/// How far (relatively) a top-p cut or cutoff decided with the GPU's f32 normaliser must be
/// from the goal for [`Sampler::sample_top`] to trust it (the f32 sum's error is ~1e-6).
pub const SAMPLE_TOP_MARGIN: f64 = 1e-3;

/// Index of the largest value, the lowest among equals (NaN-free input).
pub fn argmax(x: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in x.iter().enumerate() {
        if v > x[best] {
            best = i;
        }
    }
    best
}
