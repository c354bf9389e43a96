//! Perplexity of a llama model on a token sequence, with a sliding window, and the
//! calibration / evaluation split of a text corpus that the pruning work shares.
//!
//! **Protocol** (Hugging Face's "perplexity of fixed-length models", sliding window): windows
//! of at most `ctx` tokens start at `0, stride, 2·stride, …`; window `[b, e)` with
//! `e = min(b + ctx, n)` is run from an empty KV cache (the session is reset), and scores only
//! the targets the previous window did not: tokens `j` in `[max(prev_e, b + 1), e)`, each with
//! `−log p(tokens[j] | tokens[b..j])` from the logits after token `j − 1`. The first token of
//! the sequence is never scored (nothing predicts it), and the last window is the first one
//! that reaches `n`. With `stride = ctx` the windows are independent chunks, each scoring its
//! `ctx − 1` last tokens; with `stride < ctx` every target after the first window sees at
//! least `ctx − stride` tokens of context. The log-softmax and the sums are f64;
//! `ppl = exp(Σ nll / n_scored)`. A window runs its tokens `[b, e − 1)` (the last token
//! predicts nothing scored) and computes the vocab projection only where a target is scored
//! ([`Llama::prefill_each`]); nothing is allocated per token.
//!
//! **Split** ([`split_text`]): the held-out evaluation text is the **last 25 % of the
//! lines** (`n_lines / 4`, rounded down, lines ending at `'\n'`), the calibration text the
//! lines before; the two are disjoint and concatenate to the whole text. For gensim's
//! `lee_background.cor` (300 lines, one news story a line, no final newline, ~75.7k SmolLM2
//! tokens) that is the last 75 lines for evaluation (18,486 tokens) and the first 225 for
//! calibration.

use super::act::ActStats;
use super::llama::{Llama, Session};
use crate::error::{Error, Result};

/// Default window: 512 tokens, or the model's context if smaller.
pub const DEFAULT_CTX: usize = 512;

/// Window and stride of a perplexity run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PplConfig {
    /// Tokens per window (at least 2, at most the session's context).
    pub ctx: usize,
    /// Tokens between window starts (1 to `ctx`).
    pub stride: usize,
}

impl PplConfig {
    /// `ctx` (default [`DEFAULT_CTX`] capped at `model_ctx`) and `stride` (default `ctx / 2`,
    /// at least 1).
    pub fn new(model_ctx: usize, ctx: Option<usize>, stride: Option<usize>) -> PplConfig {
        let ctx = ctx.unwrap_or(DEFAULT_CTX.min(model_ctx));
        PplConfig {
            ctx,
            stride: stride.unwrap_or((ctx / 2).max(1)),
        }
    }
}

/// One window: runs `tokens[start..end]` and scores targets `score_from..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: usize,
    pub end: usize,
    pub score_from: usize,
}

/// The result of a perplexity run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Perplexity {
    /// `exp(mean_nll)`
    pub ppl: f64,
    /// Targets scored: `n − 1` for `n` tokens when `stride < ctx`; with `stride = ctx` each
    /// window's first token is context only, so one fewer per window after the first.
    pub n_tokens: usize,
    /// Mean negative log-likelihood in nats.
    pub mean_nll: f64,
    /// Windows run.
    pub windows: usize,
    /// Tokens run through the model (context included).
    pub tokens_run: usize,
    /// The activation sparsity met, when the model applies thresholds in prefill
    /// ([`Llama::set_act_prefill`]); zeros otherwise.
    pub act: ActStats,
}

/// The windows of the protocol (see the module doc) over `n` tokens. Errors
/// ([`Error::BadArgument`]) if `n < 2`, `ctx < 2`, or `stride` is 0 or above `ctx` (tokens
/// would go unscored).
pub fn windows(n: usize, cfg: PplConfig) -> Result<Vec<Window>> {
    let bad = |detail: String| {
        Err(Error::BadArgument {
            what: "perplexity".into(),
            detail,
        })
    };
    if cfg.ctx < 2 {
        return bad(format!(
            "a window of {} tokens scores nothing (at least 2)",
            cfg.ctx
        ));
    }
    if cfg.stride == 0 || cfg.stride > cfg.ctx {
        return bad(format!(
            "stride {} must be 1 to the window of {} tokens",
            cfg.stride, cfg.ctx
        ));
    }
    if n < 2 {
        return bad(format!("{n} tokens: nothing to score (at least 2)"));
    }
    let mut out = Vec::with_capacity(n.div_ceil(cfg.stride));
    let mut prev_end = 0;
    let mut start = 0;
    loop {
        let end = (start + cfg.ctx).min(n);
        out.push(Window {
            start,
            end,
            score_from: prev_end.max(start + 1),
        });
        if end == n {
            return Ok(out);
        }
        prev_end = end;
        start += cfg.stride;
    }
}

/// `−log softmax(logits)[target]` in f64.
pub fn nll(logits: &[f32], target: u32) -> f64 {
    let m = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let sum: f64 = logits.iter().map(|&x| (x as f64 - m).exp()).sum();
    m + sum.ln() - logits[target as usize] as f64
}

/// Perplexity of `model` on `tokens` (see the module doc), running on `s` (reset before each
/// window; its context must hold `cfg.ctx − 1` tokens). `progress(scored)` is called after
/// each window with the targets scored so far. Errors: bad window parameters or too few
/// tokens ([`Error::BadArgument`], see [`windows`]), a window larger than the session
/// ([`Error::DimOutOfRange`]), token ids outside the vocabulary, non-finite logits
/// ([`Error::Numerical`]).
pub fn perplexity(
    model: &Llama,
    s: &mut Session,
    tokens: &[u32],
    cfg: PplConfig,
    mut progress: impl FnMut(usize),
) -> Result<Perplexity> {
    let ws = windows(tokens.len(), cfg)?;
    if cfg.ctx - 1 > s.ctx() {
        return Err(Error::DimOutOfRange {
            tensor: "KV cache".into(),
            what: "perplexity window".into(),
            value: cfg.ctx as u64,
            limit: format!(
                "a window of N tokens runs N − 1; the session holds {}",
                s.ctx()
            ),
        });
    }
    check_tokens(tokens, model.cfg.vocab_size)?;
    let (mut sum, mut scored, mut run) = (0.0f64, 0usize, 0usize);
    let mut act = ActStats::default();
    for w in &ws {
        let (v, n, a) = score_window(model, s, tokens, w)?;
        sum += v;
        scored += n;
        act.add(&a);
        run += w.end - 1 - w.start;
        progress(scored);
    }
    Ok(result(sum, scored, ws.len(), run, act))
}

/// Refuses a token id the model's vocabulary (`vocab` entries) does not hold.
fn check_tokens(tokens: &[u32], vocab: usize) -> Result<()> {
    match tokens.iter().find(|&&t| t as usize >= vocab) {
        Some(&t) => Err(Error::DimOutOfRange {
            tensor: "perplexity tokens".into(),
            what: "token id".into(),
            value: t as u64,
            limit: format!("below the vocabulary size {vocab}"),
        }),
        None => Ok(()),
    }
}

/// [`perplexity`] with the windows spread over `threads` threads, each with its own session
/// of `cfg.ctx` positions (native only: wasm32 has no threads here). The sums are added in
/// window order, so the result equals the one-thread run exactly. `progress(scored)` may be
/// called from any thread.
#[cfg(not(target_arch = "wasm32"))]
pub fn perplexity_threads(
    model: &Llama,
    tokens: &[u32],
    cfg: PplConfig,
    threads: usize,
    progress: impl Fn(usize) + Sync,
) -> Result<Perplexity> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let ws = windows(tokens.len(), cfg)?;
    check_tokens(tokens, model.cfg.vocab_size)?;
    let scored_so_far = AtomicUsize::new(0);
    let ctx = cfg.ctx.min(model.cfg.context_length);
    // per window: (Σ nll, targets scored)
    let per_window = crate::par::par_map(
        ws.len(),
        threads,
        || model.session(ctx),
        |s, i| {
            let s = s.as_mut().map_err(|e| e.clone())?;
            let r = score_window(model, s, tokens, &ws[i])?;
            progress(scored_so_far.fetch_add(r.1, Ordering::Relaxed) + r.1);
            Ok(r)
        },
    );
    let (mut sum, mut scored) = (0.0f64, 0usize);
    let mut act = ActStats::default();
    for r in per_window {
        let (v, n, a): (f64, usize, ActStats) = r?;
        sum += v;
        scored += n;
        act.add(&a);
    }
    let run = ws.iter().map(|w| w.end - 1 - w.start).sum();
    Ok(result(sum, scored, ws.len(), run, act))
}

fn result(sum: f64, scored: usize, windows: usize, tokens_run: usize, act: ActStats) -> Perplexity {
    let mean_nll = sum / scored as f64;
    Perplexity {
        ppl: mean_nll.exp(),
        n_tokens: scored,
        mean_nll,
        windows,
        tokens_run,
        act,
    }
}

/// Runs one window on `s` (reset first) and returns (Σ nll, targets scored, activation
/// sparsity met).
fn score_window(
    model: &Llama,
    s: &mut Session,
    tokens: &[u32],
    w: &Window,
) -> Result<(f64, usize, ActStats)> {
    s.reset();
    s.clear_act_stats();
    let input = &tokens[w.start..w.end - 1];
    // logits after input[i] predict tokens[w.start + i + 1]
    let from = w.score_from - 1 - w.start;
    let (mut sum, mut scored) = (0.0f64, 0usize);
    model.prefill_each(s, input, from, |i, logits| {
        let v = nll(logits, tokens[w.start + i + 1]);
        if !v.is_finite() {
            return Err(Error::Numerical {
                layer: "perplexity".into(),
                detail: format!("non-finite log-likelihood at token {}", w.start + i + 1),
            });
        }
        sum += v;
        scored += 1;
        Ok(())
    })?;
    Ok((sum, scored, s.act_total()))
}

/// A text split into a calibration part and a disjoint held-out evaluation part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split<'a> {
    /// The first lines (about 75 %).
    pub calib: &'a str,
    /// The last `n_lines / 4` lines.
    pub eval: &'a str,
}

/// Splits `text` at a line boundary: the last `n_lines / 4` lines (a final line without
/// `'\n'` counts) are the evaluation part, the rest the calibration part; `calib + eval`
/// is `text`. Every pruning/perplexity experiment uses this split.
pub fn split_text(text: &str) -> Split<'_> {
    let starts: Vec<usize> = std::iter::once(0)
        .chain(
            text.match_indices('\n')
                .map(|(i, _)| i + 1)
                .filter(|&i| i < text.len()),
        )
        .collect();
    let n_lines = if text.is_empty() { 0 } else { starts.len() };
    let n_eval = n_lines / 4;
    let at = if n_eval == 0 {
        text.len()
    } else {
        starts[n_lines - n_eval]
    };
    Split {
        calib: &text[..at],
        eval: &text[at..],
    }
}
