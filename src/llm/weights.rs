//! A llama model's weights, kept as the GGUF stores them.
//!
//! [`LlamaWeights::locate`] finds the tensors in a parsed GGUF; [`LlamaWeights::with_file`]
//! then takes the file's bytes by value and keeps them: every matrix is a
//! byte range of that one buffer (its GGUF blocks, untouched), so loading SmolLM2-135M costs
//! its 98 MB once, with no copy and no f32 expansion. Matrices of a type without a GEMV kernel
//! (BF16, Q4_K, Q6_K) are dequantized to F32 at load instead (4 bytes a weight; noted in
//! [`QMatrix::converted`]). Norm weights (vectors) are decoded to f32.
//!
//! Everything the forward pass will index is checked here, once: tensor presence, dims
//! against the [`LlamaConfig`], whole blocks per row, and finite block scales (the kernels'
//! f16 conversion relies on it; see [`crate::kernels::llm::f16_finite`]).

use super::{split, LlamaConfig};
use crate::error::{Error, Result};
use crate::import::gguf::{GgmlType, Gguf, TensorInfo};
use crate::kernels::llm::{best_dense, check_scales, WeightType};
use crate::kernels::Kernel;
use crate::sparse::llm::{SparseFormat, SparseMatrix};
use std::ops::Range;

/// Where a matrix's bytes live.
#[derive(Debug, Clone)]
enum Bytes {
    /// A range of [`LlamaWeights`]' file buffer.
    File(Range<usize>),
    /// Dequantized at load (types without a kernel), as little-endian F32.
    Owned(Vec<u8>),
}

/// One weight matrix `W (rows, cols)`, row-major, each row whole blocks of `ty`; used as
/// `W @ x (cols,) -> y (rows,)` by the GEMV `kernel` chosen at load.
#[derive(Debug, Clone)]
pub struct QMatrix {
    pub name: String,
    pub ty: WeightType,
    /// Output size `d` (ggml `dims[1]`).
    pub rows: usize,
    /// Input size `n` (ggml `dims[0]`).
    pub cols: usize,
    /// The file's type, when it had no kernel and was dequantized to F32 at load.
    pub converted: Option<GgmlType>,
    pub kernel: &'static Kernel,
    /// The prefill kernel: several tokens per pass.
    pub gemm: &'static Kernel,
    bytes: Bytes,
}

impl QMatrix {
    /// The raw rows (`rows · row_bytes` bytes), given the weights' file buffer.
    #[inline]
    pub fn data<'a>(&'a self, file: &'a [u8]) -> &'a [u8] {
        match &self.bytes {
            Bytes::File(r) => &file[r.clone()],
            Bytes::Owned(v) => v,
        }
    }

    /// Bytes of one row.
    pub fn row_bytes(&self) -> usize {
        self.ty.row_bytes(self.cols)
    }

    /// Bytes this matrix occupies (in the file buffer or owned).
    pub fn n_bytes(&self) -> usize {
        self.rows * self.row_bytes()
    }

    /// `Y (t, rows) = X (t, cols) @ Wᵀ` with the decode kernel (`decode`, `t` = 1) or the
    /// prefill kernel (any `t`), split over rows across the pool ([`super::split`]).
    pub fn linear(
        &self,
        decode: bool,
        file: &[u8],
        x: &[f32],
        t: usize,
        y: &mut [f32],
    ) -> Result<()> {
        let k = if decode { self.kernel } else { self.gemm };
        split::linear(k, self.data(file), (self.rows, self.cols), x, t, y)
    }
}

/// A linear layer's matrix `W (rows, cols)`: dense GGUF blocks, or a pruned matrix in a sparse
/// LLM format (from a sparse `.zsk`, see [`crate::zsk::llm`]).
#[derive(Debug, Clone)]
pub enum Linear {
    Dense(QMatrix),
    Sparse(SparseMatrix),
}

impl Linear {
    pub fn name(&self) -> &str {
        match self {
            Linear::Dense(m) => &m.name,
            Linear::Sparse(m) => &m.name,
        }
    }

    pub fn rows(&self) -> usize {
        match self {
            Linear::Dense(m) => m.rows,
            Linear::Sparse(m) => m.rows,
        }
    }

    pub fn cols(&self) -> usize {
        match self {
            Linear::Dense(m) => m.cols,
            Linear::Sparse(m) => m.cols,
        }
    }

    /// The storage type: ggml's name (`Q4_1`) or the sparse format's (`g16i4`).
    pub fn type_name(&self) -> String {
        match self {
            Linear::Dense(m) => m.ty.name().into(),
            Linear::Sparse(m) => m.format.name(),
        }
    }

    pub fn kernel_name(&self) -> &'static str {
        match self {
            Linear::Dense(m) => m.kernel.name,
            Linear::Sparse(m) => m.kernel_name(),
        }
    }

    /// Weights stored (all of a dense matrix, the kept ones of a sparse one).
    pub fn stored_weights(&self) -> usize {
        match self {
            Linear::Dense(m) => m.rows * m.cols,
            Linear::Sparse(m) => m.nonzeros(),
        }
    }

    /// `Y (t, rows) = X (t, cols) @ Wᵀ`: `t` tokens at once, each weight decoded once per tile
    /// of tokens (prefill). Split over rows across the pool ([`super::split`]).
    pub fn gemm(&self, file: &[u8], x: &[f32], t: usize, y: &mut [f32]) -> Result<()> {
        match self {
            Linear::Dense(m) => m.linear(false, file, x, t, y),
            // a prefill tile for any t, as SparseMatrix::gemm
            Linear::Sparse(m) => split::sparse(m.kernel(t.max(2))?, m, x, t, y),
        }
    }

    /// `y (rows,) = W (rows, cols) @ x (cols,)`; `file` is the weights' file buffer. Split over
    /// rows across the pool ([`super::split`]).
    pub fn gemv(&self, file: &[u8], x: &[f32], y: &mut [f32]) -> Result<()> {
        match self {
            Linear::Dense(m) => m.linear(true, file, x, 1, y),
            Linear::Sparse(m) => split::sparse(m.kernel(1)?, m, x, 1, y),
        }
    }

    /// How a GEMV of this matrix on `x (cols,)` is cut over rows ([`split::RowSplit`]): for
    /// callers that run their own row loop in each task (the gate method's W_up row runs).
    pub fn gemv_split(&self, x: &[f32]) -> Result<split::RowSplit<'_>> {
        let (rows, cols) = (self.rows(), self.cols());
        Ok(match self {
            Linear::Dense(m) => {
                split::RowSplit::new(rows, rows * cols, split::row_align(m.kernel), None)
            }
            Linear::Sparse(m) => {
                let k = m.kernel(1)?;
                let (macs, prefix) = m.split_work(x, 1, true);
                split::RowSplit::new(rows, macs, split::row_align(k), prefix)
            }
        })
    }

    /// `y[rows] = W[rows, :] @ x (cols,)` in one kernel call on this thread; other entries of
    /// `y` are left as they are.
    #[inline]
    pub fn gemv_rows(
        &self,
        file: &[u8],
        x: &[f32],
        y: &mut [f32],
        rows: Range<usize>,
    ) -> Result<()> {
        match self {
            Linear::Dense(m) => m
                .kernel
                .run_linear(m.data(file), m.rows, m.cols, x, 1, y, rows),
            Linear::Sparse(m) => m.gemv(x, y, rows),
        }
    }

    /// Whether the GEMV skips the weight work of zero inputs (the input-channel-major
    /// formats of activation sparsity); row-major formats multiply by the zeros.
    pub fn skips_zero_inputs(&self) -> bool {
        matches!(self, Linear::Sparse(m) if matches!(m.format, SparseFormat::Col { .. }))
    }
}

/// One transformer block's weights.
#[derive(Debug, Clone)]
pub struct LayerWeights {
    /// (dim,)
    pub attn_norm: Vec<f32>,
    /// (n_heads · head_dim, dim); rows of each head in GGUF's RoPE pair order
    pub wq: Linear,
    /// (n_kv_heads · head_dim, dim); same row order as `wq`
    pub wk: Linear,
    /// (n_kv_heads · head_dim, dim)
    pub wv: Linear,
    /// (dim, n_heads · head_dim)
    pub wo: Linear,
    /// (dim,)
    pub ffn_norm: Vec<f32>,
    /// (ffn_dim, dim)
    pub w_gate: Linear,
    /// (ffn_dim, dim)
    pub w_up: Linear,
    /// (dim, ffn_dim)
    pub w_down: Linear,
}

/// All weights of a llama model, over the file's bytes.
#[derive(Debug)]
pub struct LlamaWeights {
    /// The GGUF file; matrices are ranges of it.
    file: Vec<u8>,
    /// (vocab, dim): row t is token t's embedding
    pub token_embd: QMatrix,
    pub layers: Vec<LayerWeights>,
    /// (dim,)
    pub output_norm: Vec<f32>,
    /// (vocab, dim); `None` when tied to `token_embd` (SmolLM2). A sparse `.zsk` may carry
    /// an untied copy of a tied head in another layout (`output.weight` as a sparse stream,
    /// e.g. `cm32i8`, which decodes faster than the embedding's blocks).
    pub output: Option<Linear>,
}

impl LlamaWeights {
    /// Finds the model's tensors in `g` and checks them against `cfg`. The result indexes the
    /// bytes `g` parsed, which must then be handed over with [`LlamaWeights::with_file`]
    /// (a `Gguf` borrows them, so they can only move once it is dropped).
    pub fn locate(cfg: &LlamaConfig, g: &Gguf) -> Result<LlamaWeights> {
        let hd = cfg.head_dim();
        let (dim, q_dim, kv_dim) = (cfg.dim, cfg.n_heads * hd, cfg.n_kv_heads * hd);
        let m = |name: &str, rows: usize, cols: usize| matrix(g, name, rows, cols);
        let lin = |name: &str, rows: usize, cols: usize| linear(g, name, rows, cols);
        let v = |name: &str| vector(g, name, dim);
        let token_embd = m("token_embd.weight", cfg.vocab_size, dim)?;
        let output = match g.tensor("output.weight") {
            Ok(_) => Some(lin("output.weight", cfg.vocab_size, dim)?),
            Err(_) => None,
        };
        let output_norm = v("output_norm.weight")?;
        let mut layers = Vec::with_capacity(cfg.n_layers);
        for l in 0..cfg.n_layers {
            let n = |t: &str| format!("blk.{l}.{t}.weight");
            layers.push(LayerWeights {
                attn_norm: v(&n("attn_norm"))?,
                wq: lin(&n("attn_q"), q_dim, dim)?,
                wk: lin(&n("attn_k"), kv_dim, dim)?,
                wv: lin(&n("attn_v"), kv_dim, dim)?,
                wo: lin(&n("attn_output"), dim, q_dim)?,
                ffn_norm: v(&n("ffn_norm"))?,
                w_gate: lin(&n("ffn_gate"), cfg.ffn_dim, dim)?,
                w_up: lin(&n("ffn_up"), cfg.ffn_dim, dim)?,
                w_down: lin(&n("ffn_down"), dim, cfg.ffn_dim)?,
            });
        }
        Ok(LlamaWeights {
            file: Vec::new(),
            token_embd,
            layers,
            output_norm,
            output,
        })
    }

    /// Hands over the bytes [`LlamaWeights::locate`]'s `Gguf` parsed (refused if some
    /// tensor would lie past their end, i.e. they are not that file).
    pub fn with_file(mut self, bytes: Vec<u8>) -> Result<LlamaWeights> {
        for m in self.dense_matrices() {
            if let Bytes::File(r) = &m.bytes {
                if r.end > bytes.len() {
                    return Err(Error::ShapeMismatch {
                        tensor: m.name.clone(),
                        what: "file bytes (the end of its data)".into(),
                        expected: r.end,
                        got: bytes.len(),
                    });
                }
            }
        }
        self.file = bytes;
        Ok(self)
    }

    /// The file buffer the matrices index (see [`QMatrix::data`]).
    #[inline]
    pub fn file(&self) -> &[u8] {
        &self.file
    }

    /// `logits (t, vocab) = X (t, dim) @ headᵀ` with the LM head (`output`, or the tied
    /// embeddings): `t` = 1 is decode's GEMV.
    /// The biggest product of a small model (SmolLM2: 49152 × 576), split over rows.
    pub fn lm_head(&self, x: &[f32], t: usize, y: &mut [f32]) -> Result<()> {
        match (&self.output, t) {
            (Some(h), 1) => h.gemv(&self.file, x, y),
            (Some(h), _) => h.gemm(&self.file, x, t, y),
            (None, _) => self.token_embd.linear(t == 1, &self.file, x, t, y),
        }
    }

    /// The LM head's storage type and kernel, for summaries.
    pub fn lm_head_kernel(&self) -> (String, &'static str) {
        match &self.output {
            Some(h) => (h.type_name(), h.kernel_name()),
            None => (
                self.token_embd.ty.name().into(),
                self.token_embd.kernel.name,
            ),
        }
    }

    /// Replaces every sparse matrix by its decoded weights as a dense F32 matrix: the same
    /// values on the dense kernels (4 bytes a weight). For long native evaluation runs, where
    /// the portable sparse kernels are slower than the dense ones; the browser builds run the
    /// sparse SIMD kernels.
    pub fn densify(&mut self) {
        for l in &mut self.layers {
            for lin in [
                &mut l.wq,
                &mut l.wk,
                &mut l.wv,
                &mut l.wo,
                &mut l.w_gate,
                &mut l.w_up,
                &mut l.w_down,
            ] {
                if let Linear::Sparse(m) = lin {
                    let b: Vec<u8> = m.decode().iter().flat_map(|v| v.to_le_bytes()).collect();
                    *lin = Linear::Dense(QMatrix {
                        name: m.name.clone(),
                        ty: WeightType::F32,
                        rows: m.rows,
                        cols: m.cols,
                        converted: None,
                        kernel: best_dense(WeightType::F32).0,
                        gemm: best_dense(WeightType::F32).1,
                        bytes: Bytes::Owned(b),
                    });
                }
            }
        }
    }

    /// Every block's linear matrices, in file order.
    pub fn linears(&self) -> impl Iterator<Item = &Linear> {
        self.layers
            .iter()
            .flat_map(|l| [&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down])
    }

    /// Every dense matrix (embeddings, a dense LM head, dense linears).
    fn dense_matrices(&self) -> impl Iterator<Item = &QMatrix> {
        std::iter::once(&self.token_embd).chain(
            self.output
                .iter()
                .chain(self.linears())
                .filter_map(|l| match l {
                    Linear::Dense(m) => Some(m),
                    Linear::Sparse(_) => None,
                }),
        )
    }

    /// (storage type, kernel) of every matrix, for summaries.
    pub fn kernels(&self) -> Vec<(String, &'static str)> {
        let e = &self.token_embd;
        std::iter::once((e.ty.name().to_string(), e.kernel.name))
            .chain(self.output.iter().map(|h| (h.type_name(), h.kernel_name())))
            .chain(self.linears().map(|l| (l.type_name(), l.kernel_name())))
            .collect()
    }

    /// Fraction of the linear layers' weights pruned away (0 for a dense model).
    pub fn sparsity(&self) -> f64 {
        let (mut all, mut kept) = (0usize, 0usize);
        for l in self.linears() {
            all += l.rows() * l.cols();
            kept += l.stored_weights();
        }
        1.0 - kept as f64 / all.max(1) as f64
    }

    /// Bytes held for weights (file buffer plus any dequantized or sparse copies).
    pub fn resident_bytes(&self) -> usize {
        self.file.len()
            + self
                .dense_matrices()
                .map(|m| match &m.bytes {
                    Bytes::Owned(v) => v.len(),
                    Bytes::File(_) => 0,
                })
                .sum::<usize>()
            + self
                .output
                .iter()
                .chain(self.linears())
                .map(|l| match l {
                    Linear::Sparse(m) => m.n_bytes(),
                    Linear::Dense(_) => 0,
                })
                .sum::<usize>()
    }

    /// Decodes row `r` of `m` (a matrix of these weights) into `out` (`m.cols` floats): the
    /// embedding lookup.
    pub fn row_into(&self, m: &QMatrix, r: usize, out: &mut [f32]) -> Result<()> {
        if r >= m.rows || out.len() != m.cols {
            return Err(Error::DimOutOfRange {
                tensor: m.name.clone(),
                what: "row".into(),
                value: r as u64,
                limit: format!("< {} rows, into {} floats", m.rows, m.cols),
            });
        }
        let rb = m.row_bytes();
        let row = &m.data(&self.file)[r * rb..(r + 1) * rb];
        decode_row(m.ty, row, out);
        Ok(())
    }
}

/// Decodes one row of blocks of `ty` to f32 (the kernels' arithmetic: `q·d + m`).
pub fn decode_row(ty: WeightType, row: &[u8], out: &mut [f32]) {
    crate::kernels::llm::block::decode_row(ty, row, out)
}

/// The kernel format of a ggml type, if a GEMV kernel reads it directly.
pub fn weight_type(ty: GgmlType) -> Option<WeightType> {
    Some(match ty {
        GgmlType::F32 => WeightType::F32,
        GgmlType::F16 => WeightType::F16,
        GgmlType::Q4_0 => WeightType::Q4_0,
        GgmlType::Q4_1 => WeightType::Q4_1,
        GgmlType::Q8_0 => WeightType::Q8_0,
        _ => return None,
    })
}

fn bad_tensor(g: &Gguf, name: &str, detail: String) -> Error {
    Error::BadTensor {
        file: g.file().into(),
        tensor: name.into(),
        detail,
    }
}

fn check_dims(g: &Gguf, info: &TensorInfo, want: &[usize]) -> Result<()> {
    if info.dims != want {
        return Err(bad_tensor(
            g,
            &info.name,
            format!(
                "has ggml dims {:?}, expected {want:?} for this model's hyper-parameters",
                info.dims
            ),
        ));
    }
    Ok(())
}

/// The matrix `name`, `rows × cols` (ggml dims `[cols, rows]`).
fn matrix(g: &Gguf, name: &str, rows: usize, cols: usize) -> Result<QMatrix> {
    let t = g.tensor(name)?;
    check_dims(g, t.info, &[cols, rows])?;
    let (ty, converted, bytes) = match weight_type(t.info.ty) {
        Some(ty) => {
            let start = t.info.start;
            (ty, None, Bytes::File(start..start + t.info.n_bytes))
        }
        None => {
            // No kernel reads this type: dequantize (errors name the type if it cannot).
            let f = t.dequantize()?;
            let mut b = Vec::with_capacity(4 * f.len());
            for v in f {
                b.extend_from_slice(&v.to_le_bytes());
            }
            (WeightType::F32, Some(t.info.ty), Bytes::Owned(b))
        }
    };
    if let Err(blk) = check_scales(ty, t.data) {
        return Err(bad_tensor(
            g,
            name,
            format!("{ty} block {blk} has an infinite or NaN scale"),
        ));
    }
    Ok(QMatrix {
        name: name.into(),
        ty,
        rows,
        cols,
        converted,
        kernel: best_dense(ty).0,
        gemm: best_dense(ty).1,
        bytes,
    })
}

/// The linear matrix `name`, `rows × cols`: a 1-D `I8` tensor is a pruned matrix's
/// [`SparseMatrix`] bytes (a sparse `.zsk`, see [`crate::zsk::llm`]), anything else dense.
fn linear(g: &Gguf, name: &str, rows: usize, cols: usize) -> Result<Linear> {
    let t = g.tensor(name)?;
    if t.info.ty != GgmlType::I8 || t.info.dims.len() != 1 {
        return Ok(Linear::Dense(matrix(g, name, rows, cols)?));
    }
    let (m, used) = SparseMatrix::read(name, t.data).map_err(|e| match e {
        // The matrix only knows its tensor's name; the file is known here.
        Error::TooLarge {
            tensor,
            bytes,
            limit,
            detail,
            ..
        } => Error::TooLarge {
            file: g.file().into(),
            tensor,
            bytes,
            limit,
            detail,
        },
        e => e,
    })?;
    if (m.rows, m.cols) != (rows, cols) {
        return Err(bad_tensor(
            g,
            name,
            format!(
                "a sparse {}×{} matrix, expected {rows}×{cols}",
                m.rows, m.cols
            ),
        ));
    }
    if used != t.data.len() {
        return Err(bad_tensor(
            g,
            name,
            format!(
                "{} bytes after the sparse matrix's {used}",
                t.data.len() - used
            ),
        ));
    }
    Ok(Linear::Sparse(m))
}

/// The f32 vector `name` of `len` values, finite.
fn vector(g: &Gguf, name: &str, len: usize) -> Result<Vec<f32>> {
    let t = g.tensor(name)?;
    check_dims(g, t.info, &[len])?;
    let v = t.dequantize()?;
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(bad_tensor(g, name, format!("value {i} is {}", v[i])));
    }
    Ok(v)
}
