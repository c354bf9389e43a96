//! Activation sparsity in decode: the input of a linear layer loses its small entries, and the
//! input-channel-major kernels (`cm32i8`, `cm32i4`, see [`crate::sparse::llm`]) skip the weight
//! columns of those zeros. No training: thresholds are calibrated on text
//! ([`crate::prune::llm::act`]) and travel in the model file.
//!
//! Two methods:
//! - **TEAL** (arXiv 2408.14690): each linear input is thresholded on |x|. Four sites a layer,
//!   one threshold each: rmsnorm(x)·attn_norm (Wq, Wk, Wv share it), the attention output (Wo),
//!   rmsnorm(x)·ffn_norm (W_gate, W_up), and silu(gate) ⊙ up (W_down).
//! - **Gate** (CATS arXiv 2404.08763, CHESS arXiv 2409.01366): the FFN channel i is dropped
//!   when |silu(gate_i)| is small; W_up's row i is then never computed and W_down's column i
//!   is skipped. One threshold a layer.
//! - **WINA** (weight-informed, arXiv 2505.19427): TEAL's sites, but entry j is scored by
//!   |x_j|·‖W[:, j]‖ (the column norm over the matrices reading the site), so of two equal
//!   inputs the one feeding small weights goes first: for a given number of zeros this drops
//!   the least output energy. The per-channel norms travel in the file.
//!
//! **In the file** (the sparse LLM `.zsk`'s GGUF payload, a versioned section):
//! - `zeroskip.act.version` u32 = [`VERSION`];
//! - `zeroskip.act.method` string, `teal` or `gate`;
//! - `zeroskip.act.target` f32: the sparsity the thresholds were calibrated for;
//! - tensor `zeroskip.act.thresholds` F32, ggml dims `[4, n_layers]`: per layer the thresholds
//!   of the four sites in [`Site`] order (gate: only `FfnMid`'s, on |silu(gate)|; the others 0);
//! - tensor `zeroskip.act.calibrated` F32 `[4, n_layers]`: the fraction of zeros each threshold
//!   gave on the calibration text;
//! - WINA only: tensor `zeroskip.act.scales` F32 `[Σ site lengths]`: per layer, per site in
//!   [`Site`] order, one positive weight per input channel (dim, q_dim, dim, ffn values).
//!
//! [`ActSparsity::from_gguf`] checks all of it; a bad section is a typed error naming the
//! tensor or key.

use super::llama::Site;
use super::LlamaConfig;
use crate::error::{Error, Result};
use crate::import::gguf::{GgmlType, Gguf, Value};

/// The section version this build reads and writes.
pub const VERSION: u32 = 1;
/// Largest threshold accepted from a file. Activations of a normed llama are O(1)–O(100); a
/// threshold past this zeroes everything and is a corrupt file, not a setting.
pub const MAX_THRESHOLD: f32 = 1.0e4;

pub const KEY_VERSION: &str = "zeroskip.act.version";
pub const KEY_METHOD: &str = "zeroskip.act.method";
pub const KEY_TARGET: &str = "zeroskip.act.target";
pub const TENSOR_THRESHOLDS: &str = "zeroskip.act.thresholds";
pub const TENSOR_CALIBRATED: &str = "zeroskip.act.calibrated";
pub const TENSOR_SCALES: &str = "zeroskip.act.scales";
/// Largest per-channel weight accepted (WINA's column norms are O(1)–O(100)).
pub const MAX_SCALE: f32 = 1.0e6;

/// How activations are sparsified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActMethod {
    /// |x| thresholds at every linear input.
    Teal,
    /// |silu(gate)| threshold on the FFN channels.
    Gate,
    /// |x_j|·‖W[:, j]‖ thresholds at every linear input.
    Wina,
}

impl ActMethod {
    pub fn name(self) -> &'static str {
        match self {
            ActMethod::Teal => "teal",
            ActMethod::Gate => "gate",
            ActMethod::Wina => "wina",
        }
    }

    /// The sites this method thresholds.
    pub fn sites(self) -> &'static [Site] {
        match self {
            ActMethod::Teal | ActMethod::Wina => &Site::ALL,
            ActMethod::Gate => &[Site::FfnMid],
        }
    }
}

crate::parse_names!(ActMethod, "activation sparsity method", [
    "teal" => ActMethod::Teal,
    "gate" => ActMethod::Gate,
    "wina" => ActMethod::Wina,
]);

/// A model's calibrated activation thresholds.
#[derive(Debug, Clone, PartialEq)]
pub struct ActSparsity {
    pub method: ActMethod,
    /// The sparsity the thresholds were calibrated for (MAC-weighted mean over the sites).
    pub target: f32,
    /// (n_layers,) thresholds of the four sites, [`Site`] order; 0 = the site is left alone.
    pub thresholds: Vec<[f32; 4]>,
    /// (n_layers,) the fraction of zeros each threshold gave on the calibration text.
    pub calibrated: Vec<[f32; 4]>,
    /// WINA: (n_layers · 4,) per site `layer · 4 + site`, one weight per input channel; the
    /// entry scored is |x_j|·scales[j]. Empty for the other methods.
    pub scales: Vec<Vec<f32>>,
}

impl ActSparsity {
    /// The threshold of `site` in `layer` (0 when off).
    #[inline]
    pub fn threshold(&self, layer: usize, site: Site) -> f32 {
        self.thresholds[layer][site.index()]
    }

    /// Zeroes the small entries of `x`, the input of `site` in `layer`, as the method scores
    /// them (TEAL |x_j|, WINA |x_j|·scale_j; the gate method's FFN channels are the forward
    /// pass's business, its other sites are left alone); returns the zeros of `x`.
    #[inline]
    pub fn sparsify(&self, layer: usize, site: Site, x: &mut [f32]) -> usize {
        let t = self.threshold(layer, site);
        match self.method {
            ActMethod::Wina if t > 0.0 => {
                let sc = &self.scales[layer * 4 + site.index()];
                for (v, &c) in x.iter_mut().zip(sc) {
                    if v.abs() * c < t {
                        *v = 0.0;
                    }
                }
                x.iter().filter(|&&v| v == 0.0).count()
            }
            ActMethod::Gate if site == Site::FfnMid => sparsify(x, 0.0),
            _ => sparsify(x, t),
        }
    }

    /// Reads the section from `g`: `Ok(None)` when the file has none. The tensors must match
    /// `cfg`'s layers (and, for WINA's scales, its site widths).
    pub fn from_gguf(g: &Gguf, cfg: &LlamaConfig) -> Result<Option<ActSparsity>> {
        let n_layers = cfg.n_layers;
        let Some(version) = g.get(KEY_VERSION) else {
            if g.tensor(TENSOR_THRESHOLDS).is_ok() {
                return Err(bad_key(
                    g,
                    KEY_VERSION,
                    "missing beside the thresholds".into(),
                ));
            }
            return Ok(None);
        };
        match version {
            Value::U32(VERSION) => {}
            Value::U32(v) => {
                return Err(bad_key(
                    g,
                    KEY_VERSION,
                    format!("section version {v}; this build reads version {VERSION}"),
                ))
            }
            v => {
                return Err(bad_key(
                    g,
                    KEY_VERSION,
                    format!("is {}, expected a u32", v.type_name()),
                ))
            }
        }
        let method = match g.get(KEY_METHOD) {
            Some(Value::String(s)) => s.parse::<ActMethod>().map_err(|_| {
                bad_key(g, KEY_METHOD, format!("{s:?}, expected teal, gate or wina"))
            })?,
            _ => return Err(bad_key(g, KEY_METHOD, "missing or not a string".into())),
        };
        let target = match g.get(KEY_TARGET) {
            Some(Value::F32(t)) if (0.0..1.0).contains(t) => *t,
            Some(Value::F32(t)) => {
                return Err(bad_key(g, KEY_TARGET, format!("{t} is outside [0, 1)")))
            }
            _ => return Err(bad_key(g, KEY_TARGET, "missing or not an f32".into())),
        };
        let thresholds = per_site(g, TENSOR_THRESHOLDS, n_layers, 0.0, MAX_THRESHOLD)?;
        let calibrated = per_site(g, TENSOR_CALIBRATED, n_layers, 0.0, 1.0)?;
        if method == ActMethod::Gate {
            if let Some(l) = thresholds
                .iter()
                .position(|t| t[..3].iter().any(|&v| v != 0.0))
            {
                return Err(Error::BadTensor {
                    file: g.file().into(),
                    tensor: TENSOR_THRESHOLDS.into(),
                    detail: format!(
                        "layer {l}: the gate method thresholds only the FFN channels (site 3); \
                         sites 0–2 must be 0"
                    ),
                });
            }
        }
        let scales = match (method, g.tensor(TENSOR_SCALES)) {
            (ActMethod::Wina, Ok(_)) => read_scales(g, cfg)?,
            (ActMethod::Wina, Err(e)) => return Err(e),
            (_, Ok(_)) => {
                return Err(Error::BadTensor {
                    file: g.file().into(),
                    tensor: TENSOR_SCALES.into(),
                    detail: format!("present, but the method {} has no scales", method.name()),
                })
            }
            (_, Err(_)) => Vec::new(),
        };
        Ok(Some(ActSparsity {
            method,
            target,
            thresholds,
            calibrated,
            scales,
        }))
    }

    /// The section as GGUF metadata and tensors, for the `.zsk` writer.
    pub fn to_gguf(&self) -> (Vec<(String, Value)>, Vec<SectionTensor>) {
        let meta = vec![
            (KEY_VERSION.to_string(), Value::U32(VERSION)),
            (KEY_METHOD.into(), Value::String(self.method.name().into())),
            (KEY_TARGET.into(), Value::F32(self.target)),
        ];
        let bytes = |v: &[[f32; 4]]| -> Vec<u8> {
            v.iter().flatten().flat_map(|x| x.to_le_bytes()).collect()
        };
        let dims = vec![4, self.thresholds.len()];
        let mut tensors = vec![
            (
                TENSOR_THRESHOLDS.into(),
                dims.clone(),
                bytes(&self.thresholds),
            ),
            (TENSOR_CALIBRATED.into(), dims, bytes(&self.calibrated)),
        ];
        if !self.scales.is_empty() {
            let v: Vec<u8> = self
                .scales
                .iter()
                .flatten()
                .flat_map(|x| x.to_le_bytes())
                .collect();
            tensors.push((TENSOR_SCALES.into(), vec![v.len() / 4], v));
        }
        (meta, tensors)
    }
}

/// A tensor of the section: (name, ggml dims, little-endian F32 bytes).
pub type SectionTensor = (String, Vec<usize>, Vec<u8>);

/// Input width of each site of `cfg`: (dim, q_dim, dim, ffn).
pub fn site_lens(cfg: &LlamaConfig) -> [usize; 4] {
    let q_dim = cfg.n_heads * cfg.head_dim();
    [cfg.dim, q_dim, cfg.dim, cfg.ffn_dim]
}

/// WINA's per-channel weights: F32 `[n_layers · Σ site widths]`, each finite, in
/// (0, [`MAX_SCALE`]].
fn read_scales(g: &Gguf, cfg: &LlamaConfig) -> Result<Vec<Vec<f32>>> {
    let lens = site_lens(cfg);
    let want = cfg.n_layers * lens.iter().sum::<usize>();
    let v = f32_tensor(
        g,
        TENSOR_SCALES,
        &[want],
        "one weight per input channel of every site of every layer",
        |x| x > 0.0 && x <= MAX_SCALE,
        &format!("(0, {MAX_SCALE}]"),
    )?;
    let mut out = Vec::with_capacity(4 * cfg.n_layers);
    let mut at = 0;
    for _ in 0..cfg.n_layers {
        for n in lens {
            out.push(v[at..at + n].to_vec());
            at += n;
        }
    }
    Ok(out)
}

fn bad_key(g: &Gguf, key: &str, detail: String) -> Error {
    Error::BadTensor {
        file: g.file().into(),
        tensor: key.into(),
        detail: format!("activation sparsity section: {detail}"),
    }
}

/// The F32 tensor `name` of ggml dims `[4, n_layers]`, every value finite and in `lo..=hi`.
fn per_site(g: &Gguf, name: &str, n_layers: usize, lo: f32, hi: f32) -> Result<Vec<[f32; 4]>> {
    let v = f32_tensor(
        g,
        name,
        &[4, n_layers],
        "4 sites for each of the model's layers",
        |x| (lo..=hi).contains(&x),
        &format!("[{lo}, {hi}] (value i: layer i / 4, site i % 4)"),
    )?;
    Ok(v.chunks_exact(4)
        .map(|c| [c[0], c[1], c[2], c[3]])
        .collect())
}

/// The F32 tensor `name` of ggml dims `dims` (`what` they mean, for the error), every value
/// finite and `ok` (`range` describes it).
fn f32_tensor(
    g: &Gguf,
    name: &str,
    dims: &[usize],
    what: &str,
    ok: impl Fn(f32) -> bool,
    range: &str,
) -> Result<Vec<f32>> {
    let t = g.tensor(name)?;
    let bad = |detail: String| Error::BadTensor {
        file: g.file().into(),
        tensor: name.into(),
        detail,
    };
    if t.info.ty != GgmlType::F32 || t.info.dims != dims {
        return Err(bad(format!(
            "{:?} of ggml dims {:?} ({} values), expected F32 {dims:?}: {what}",
            t.info.ty, t.info.dims, t.info.n_elements
        )));
    }
    let v: Vec<f32> = t
        .data
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    if let Some(i) = v.iter().position(|&x| !(x.is_finite() && ok(x))) {
        return Err(bad(format!(
            "value {i} is {}, expected a finite number in {range}",
            v[i]
        )));
    }
    Ok(v)
}

/// Zeroes the entries of `x` with |x| < `t` (none when `t` = 0); returns how many are zero.
#[inline]
pub fn sparsify(x: &mut [f32], t: f32) -> usize {
    if t > 0.0 {
        for v in x.iter_mut() {
            if v.abs() < t {
                *v = 0.0;
            }
        }
    }
    x.iter().filter(|&&v| v == 0.0).count()
}

/// What activation sparsity skipped, in multiply-adds of the linear layers (the LM head is
/// not counted: it never skips).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ActStats {
    /// Tokens counted.
    pub tokens: u64,
    /// Linear-layer multiply-adds of those tokens.
    pub macs: u64,
    /// Multiply-adds whose input was zero.
    pub zero_macs: u64,
    /// Multiply-adds a kernel actually skipped (zero inputs of a skipping format).
    pub skipped_macs: u64,
}

impl ActStats {
    pub fn add(&mut self, o: &ActStats) {
        self.tokens += o.tokens;
        self.macs += o.macs;
        self.zero_macs += o.zero_macs;
        self.skipped_macs += o.skipped_macs;
    }

    /// Fraction of the multiply-adds whose input was zero.
    pub fn zero_fraction(&self) -> f64 {
        self.zero_macs as f64 / self.macs.max(1) as f64
    }

    /// Fraction of the multiply-adds skipped (the weight columns not read).
    pub fn skipped_fraction(&self) -> f64 {
        self.skipped_macs as f64 / self.macs.max(1) as f64
    }
}

/// Per layer and site: the multiply-adds one zero input entry stands for (`all`) and the
/// part of them a kernel skips (`skip`), fixed by the model's formats at load.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SiteCosts {
    /// (n_layers,) rows of the matrices reading each site (gate: W_up's columns added at
    /// FfnMid, since a dropped channel skips its W_up row).
    pub all: Vec<[u64; 4]>,
    pub skip: Vec<[u64; 4]>,
    /// Linear multiply-adds of one token.
    pub macs_per_token: u64,
}
