//! Calibration of an LLM for pruning: run the dense model on sample text and accumulate, for
//! every linear layer's input site, the Gram matrix H = Σ x xᵀ over the calibration tokens.
//!
//! One pass serves every method: Wanda's ‖x_j‖² is diag(H) and SparseGPT needs H itself
//! (magnitude needs nothing). The inputs come from the dense model throughout, not from the
//! already-pruned layers before (SparseGPT's sequential variant): one pass then calibrates any
//! number of variants, which is what a perplexity sweep needs. Wq/Wk/Wv share one site, as do
//! W_gate/W_up, so SmolLM2-135M needs 4 Gram matrices a layer (576² three times, 1536² once):
//! 100 M f64 entries, 805 MB.
//!
//! Tokens are buffered in chunks of [`CHUNK`] per site and each chunk's Xᵀ X (f32 over at most
//! 64 tokens) is added into f64, with the sites of a chunk split between two threads.

use crate::error::{Error, Result};
use crate::llm::llama::{dot, Llama, Site, Tap};

/// Tokens per chunk of each site's buffer.
const CHUNK: usize = 64;

/// H (n, n) = Σ x xᵀ over `tokens` calibration vectors x (n,), full (both triangles).
#[derive(Debug, Clone)]
pub struct Gram {
    pub n: usize,
    /// (n, n) row-major
    pub h: Vec<f64>,
    pub tokens: usize,
}

impl Gram {
    /// Copies the upper triangle (what [`add_chunk`] accumulates) into the lower one.
    fn mirror(&mut self) {
        let n = self.n;
        for i in 0..n {
            for j in i + 1..n {
                self.h[j * n + i] = self.h[i * n + j];
            }
        }
    }

    /// The Gram matrix of the inputs reordered as `x'[a] = x[order[a]]`.
    pub fn permuted(&self, order: &[usize]) -> Gram {
        let n = self.n;
        let mut h = vec![0.0; n * n];
        for (a, &oa) in order.iter().enumerate() {
            for (b, &ob) in order.iter().enumerate() {
                h[a * n + b] = self.h[oa * n + ob];
            }
        }
        Gram {
            n,
            h,
            tokens: self.tokens,
        }
    }

    /// Σ x_j² per column j: Wanda's squared input norms.
    pub fn diag(&self) -> Vec<f64> {
        (0..self.n).map(|j| self.h[j * self.n + j]).collect()
    }
}

/// The Gram matrices of every (layer, site) of a model.
#[derive(Debug)]
pub struct Calibration {
    /// (n_layers · 4,): index `layer · 4 + site`
    grams: Vec<Gram>,
    pub tokens: usize,
    pub sequences: usize,
}

impl Calibration {
    pub fn gram(&self, layer: usize, site: Site) -> &Gram {
        &self.grams[layer * 4 + site.index()]
    }

    /// Runs `model` on `tokens`, cut into sequences of at most `seq_len` tokens (each in a fresh
    /// session, as a prompt would start), and accumulates the Gram matrices. `progress(done)`
    /// after each sequence with the tokens run so far.
    pub fn collect(
        model: &Llama,
        tokens: &[u32],
        seq_len: usize,
        mut progress: impl FnMut(usize),
    ) -> Result<Calibration> {
        check_tokens(tokens, seq_len)?;
        let c = &model.cfg;
        let seq_len = seq_len.min(c.context_length);
        let q_dim = c.n_heads * c.head_dim();
        let dims = [c.dim, q_dim, c.dim, c.ffn_dim];
        let mut col = Collector {
            grams: (0..c.n_layers)
                .flat_map(|_| dims)
                .map(|n| Gram {
                    n,
                    h: vec![0.0; n * n],
                    tokens: 0,
                })
                .collect(),
            buf: (0..c.n_layers)
                .flat_map(|_| dims)
                .map(|n| vec![0.0; n * CHUNK])
                .collect(),
            fill: vec![0; c.n_layers * 4],
        };
        let mut s = model.session(seq_len)?;
        let mut done = 0;
        let mut sequences = 0;
        for seq in tokens.chunks(seq_len) {
            s.reset();
            model.prefill_tapped(&mut s, seq, &mut col)?;
            done += seq.len();
            sequences += 1;
            progress(done);
        }
        col.flush_all();
        col.grams.iter_mut().for_each(Gram::mirror);
        Ok(Calibration {
            grams: col.grams,
            tokens: done,
            sequences,
        })
    }
}

/// The tap: buffers each site's vectors, `buf[i]` (n, CHUNK) column-major by token, so a
/// column pair's dot product over the chunk is a contiguous run.
struct Collector {
    grams: Vec<Gram>,
    /// per site: (n, CHUNK), entry (j, t) at j·CHUNK + t
    buf: Vec<Vec<f32>>,
    /// per site: tokens buffered
    fill: Vec<usize>,
}

impl Tap for Collector {
    fn see(&mut self, layer: usize, site: Site, x: &[f32]) {
        let i = layer * 4 + site.index();
        let t = self.fill[i];
        let buf = &mut self.buf[i];
        for (j, &v) in x.iter().enumerate() {
            buf[j * CHUNK + t] = v;
        }
        self.fill[i] = t + 1;
        // The last site of the last layer completes a token: every site is then full together.
        if i + 1 == self.fill.len() && t + 1 == CHUNK {
            self.flush_all();
        }
    }
}

impl Collector {
    fn flush_all(&mut self) {
        // Each Gram matrix is one job (the big FFN ones first, so the two threads finish
        // together); jobs own disjoint matrices, handed out through per-job locks.
        let jobs: Vec<std::sync::Mutex<(&mut Gram, &[f32], usize)>> = self
            .grams
            .iter_mut()
            .zip(&self.buf)
            .zip(&self.fill)
            .map(|((g, b), &f)| std::sync::Mutex::new((g, b.as_slice(), f)))
            .collect();
        let mut order: Vec<usize> = (0..jobs.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(self.buf[i].len()));
        crate::par::par_map(
            order.len(),
            crate::par::available(),
            || (),
            |_, k| {
                if let Ok(mut job) = jobs[order[k]].lock() {
                    let (g, b, f) = &mut *job;
                    add_chunk(g, b, *f);
                }
            },
        );
        self.fill.fill(0);
    }
}

/// Upper triangle of H += Xᵀ X for the chunk's `fill` tokens: `buf (n, CHUNK)`, entry (j, t)
/// at j·CHUNK + t.
fn add_chunk(g: &mut Gram, buf: &[f32], fill: usize) {
    if fill == 0 {
        return;
    }
    let n = g.n;
    for i in 0..n {
        let xi = &buf[i * CHUNK..][..fill];
        for (j, h) in (i..n).zip(&mut g.h[i * n + i..(i + 1) * n]) {
            *h += dot(xi, &buf[j * CHUNK..][..fill]) as f64;
        }
    }
    g.tokens += fill;
}

/// First 8 bytes of a calibration cache file.
const CACHE_MAGIC: &[u8; 8] = b"ZSKCAL01";

impl Calibration {
    /// Serializes the Gram matrices (f64, little-endian) under `key`, which names what they were
    /// computed from (model, text, token count), so a stale cache is never used.
    pub fn save(&self, path: &std::path::Path, key: &str) -> Result<()> {
        use std::io::Write;
        let io = |e: std::io::Error| Error::Io {
            file: path.display().to_string(),
            detail: e.to_string(),
        };
        let mut f = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
        let mut head = Vec::new();
        head.extend_from_slice(CACHE_MAGIC);
        head.extend_from_slice(&(key.len() as u64).to_le_bytes());
        head.extend_from_slice(key.as_bytes());
        for v in [self.tokens, self.sequences, self.grams.len()] {
            head.extend_from_slice(&(v as u64).to_le_bytes());
        }
        f.write_all(&head).map_err(io)?;
        for g in &self.grams {
            f.write_all(&(g.n as u64).to_le_bytes()).map_err(io)?;
            f.write_all(&(g.tokens as u64).to_le_bytes()).map_err(io)?;
            let bytes: Vec<u8> = g.h.iter().flat_map(|v| v.to_le_bytes()).collect();
            f.write_all(&bytes).map_err(io)?;
        }
        f.flush().map_err(io)
    }

    /// Reads a cache written by [`Calibration::save`] with the same `key`; `Ok(None)` when the
    /// file is missing or was made from something else. Sizes are checked against the file's
    /// length before anything is allocated.
    pub fn load(path: &std::path::Path, key: &str) -> Result<Option<Calibration>> {
        let Ok(bytes) = std::fs::read(path) else {
            return Ok(None);
        };
        let bad = |detail: &str| Error::Io {
            file: path.display().to_string(),
            detail: format!("calibration cache: {detail}"),
        };
        let mut at = 0usize;
        let mut take = |n: usize| -> Result<&[u8]> {
            let s = bytes
                .get(at..at.checked_add(n).ok_or_else(|| bad("size overflows"))?)
                .ok_or_else(|| bad("truncated"))?;
            at += n;
            Ok(s)
        };
        if take(8)? != CACHE_MAGIC {
            return Ok(None);
        }
        let u64_at = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize;
        let klen = u64_at(take(8)?);
        if take(klen)? != key.as_bytes() {
            return Ok(None);
        }
        let tokens = u64_at(take(8)?);
        let sequences = u64_at(take(8)?);
        let count = u64_at(take(8)?);
        let mut grams = Vec::new();
        for _ in 0..count {
            let n = u64_at(take(8)?);
            let t = u64_at(take(8)?);
            let len = n.checked_mul(n).and_then(|v| v.checked_mul(8));
            let raw = take(len.ok_or_else(|| bad("size overflows"))?)?;
            let h = raw
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect();
            grams.push(Gram { n, h, tokens: t });
        }
        Ok(Some(Calibration {
            grams,
            tokens,
            sequences,
        }))
    }
}

/// Calibration (weights' Hessians, activation thresholds) needs a next token to predict and
/// sequences of at least one token.
pub(super) fn check_tokens(tokens: &[u32], seq_len: usize) -> Result<()> {
    if tokens.len() < 2 || seq_len == 0 {
        return Err(Error::BadCalibration {
            detail: format!(
                "{} calibration tokens in sequences of {seq_len}: need at least 2 tokens",
                tokens.len()
            ),
        });
    }
    Ok(())
}
