//! `.zsk` bytes → `Graph` + the packed SpMM streams, every length checked against the bytes
//! left before it sizes an allocation, every stream validated before a kernel sees it.

use super::*;
use crate::error::{Error, Result};
use crate::graph::{
    Activation, Conv, Graph, Linear, Node, Op, Pool, PoolKind, Resize, Shape, Value,
};
use crate::limits::{self, MAX_DENSIFIED, MAX_TENSOR_ELEMENTS, MAX_ZSK_DIM};
use crate::sparse::SpmmWeights;
use crate::tensor::f16_le_to_f32;

/// A loaded model: the graph (dense weights, for the reference interpreter and checks) and,
/// per node, the SpMM stream the file stored for it, which the plan uses as is.
#[derive(Debug, Clone)]
pub struct ZskModel {
    pub graph: Graph,
    /// (nodes,) `Some` for the 1x1 conv / FC layers stored sparse
    pub packed: Vec<Option<SpmmWeights>>,
}

/// Decodes a `.zsk` (`file` names it in errors).
pub fn load(file: &str, bytes: &[u8]) -> Result<ZskModel> {
    let mut r = Reader {
        file,
        b: bytes,
        at: 0,
        densify_left: MAX_DENSIFIED,
    };
    if r.take(8)? != MAGIC {
        return Err(r.bad("not a .zsk file (bad magic)".into()));
    }
    let version = r.u32()?;
    if version != VERSION {
        return Err(r.bad(format!(
            "format version {version}, this build reads version {VERSION}"
        )));
    }
    let _flags = r.u32()?;
    let name = r.str()?;
    let n_values = r.count(16)?;
    let mut values = Vec::new();
    for _ in 0..n_values {
        let vname = r.str()?;
        let shape = r.shape()?;
        values.push(Value { name: vname, shape });
    }
    let (input, output) = (r.u32()? as usize, r.u32()? as usize);
    let n_nodes = r.count(10)?;
    let (mut nodes, mut packed) = (Vec::new(), Vec::new());
    for _ in 0..n_nodes {
        let node_name = r.str()?;
        let n_in = r.count(4)?;
        let inputs = (0..n_in)
            .map(|_| r.u32().map(|v| v as usize))
            .collect::<Result<Vec<_>>>()?;
        let out = r.u32()? as usize;
        let (op, p) = r.op(&node_name)?;
        nodes.push(Node {
            name: node_name,
            op,
            inputs,
            output: out,
        });
        packed.push(p);
    }
    if r.at != bytes.len() {
        return Err(r.bad(format!(
            "{} trailing bytes after the last node",
            bytes.len() - r.at
        )));
    }
    let graph = Graph {
        name,
        values,
        nodes,
        input,
        output,
    };
    graph.validate().map_err(|e| Error::BadModel {
        file: file.into(),
        format: ".zsk".into(),
        detail: e.to_string(),
    })?;
    Ok(ZskModel { graph, packed })
}

struct Reader<'a> {
    file: &'a str,
    b: &'a [u8],
    at: usize,
    /// Floats the packed layers may still densify to (of [`MAX_DENSIFIED`]).
    densify_left: usize,
}

impl<'a> Reader<'a> {
    fn bad(&self, detail: String) -> Error {
        Error::BadModel {
            file: self.file.into(),
            format: ".zsk".into(),
            detail: format!("{detail} (at byte {})", self.at),
        }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.b.len() - self.at {
            return Err(self.bad(format!(
                "truncated: {n} more bytes needed, {} left",
                self.b.len() - self.at
            )));
        }
        let s = &self.b[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn f32(&mut self) -> Result<f32> {
        Ok(f32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn dim(&mut self) -> Result<usize> {
        let v = self.u32()?;
        if v as usize > MAX_ZSK_DIM {
            return Err(self.bad(format!("dimension {v} is absurd")));
        }
        Ok(v as usize)
    }
    /// An element count, each element at least `min_bytes` long in the file: a count the
    /// remaining bytes cannot hold is refused before anything is sized from it.
    fn count(&mut self, min_bytes: usize) -> Result<usize> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_bytes) > self.b.len() - self.at {
            return Err(self.bad(format!(
                "count {n} cannot fit in the {} bytes left",
                self.b.len() - self.at
            )));
        }
        Ok(n)
    }
    fn str(&mut self) -> Result<String> {
        let n = self.count(1)?;
        let s = self.take(n)?;
        String::from_utf8(s.to_vec()).map_err(|_| self.bad("a name is not UTF-8".into()))
    }
    fn shape(&mut self) -> Result<Shape> {
        Ok(Shape::new(self.dim()?, self.dim()?, self.dim()?))
    }
    /// `dtype u8, n u32, values` of `node`'s weights.
    fn values(&mut self, node: &str) -> Result<Vec<f32>> {
        let dtype = self.u8()?;
        let width = match dtype {
            DTYPE_F32 => 4,
            DTYPE_F16 => 2,
            other => {
                return Err(self.bad(format!("value type {other} (expected 0 = f32 or 1 = f16)")))
            }
        };
        // n is a u32: up to 16 GiB of f32, four times wasm32's memory.
        let at = self.at;
        let n = self.u32()? as u64;
        limits::check_count(
            self.file,
            node,
            Some(n),
            4,
            MAX_TENSOR_ELEMENTS as u64,
            || format!("a block of {n} values (at byte {at})"),
        )?;
        self.at = at;
        let n = self.count(width)?;
        let raw = self.take(n * width)?;
        Ok(if width == 4 {
            raw.chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect()
        } else {
            f16_le_to_f32(raw).collect()
        })
    }

    fn op(&mut self, node: &str) -> Result<(Op, Option<SpmmWeights>)> {
        let tag = self.u8()?;
        Ok(match tag {
            OP_CONV => {
                let [c_out, c_in, groups, kh, kw] =
                    [(); 5].map(|_| self.dim()).map(|d| d.unwrap_or(usize::MAX));
                let mut a = [0usize; 8];
                for v in a.iter_mut() {
                    *v = self.dim()?;
                }
                if [c_out, c_in, groups, kh, kw].contains(&usize::MAX) {
                    return Err(self.bad(format!("node {node}: conv dims out of range")));
                }
                let bias = self.values(node)?;
                let (weight, packed) =
                    self.weights(node, c_out, c_in / groups.max(1) * kh * kw, c_in)?;
                let conv = Conv {
                    c_out,
                    c_in,
                    groups,
                    kh,
                    kw,
                    stride: [a[0], a[1]],
                    dilation: [a[2], a[3]],
                    pads: [a[4], a[5], a[6], a[7]],
                    weight,
                    bias,
                };
                (Op::Conv(conv), packed)
            }
            OP_LINEAR => {
                let (c_out, c_in) = (self.dim()?, self.dim()?);
                let bias = self.values(node)?;
                let (weight, packed) = self.weights(node, c_out, c_in, c_in)?;
                (
                    Op::Linear(Linear {
                        c_out,
                        c_in,
                        weight,
                        bias,
                    }),
                    packed,
                )
            }
            OP_ACT => {
                let a = match self.u8()? {
                    ACT_RELU => Activation::Relu,
                    ACT_CLIP => Activation::Clip {
                        min: self.f32()?,
                        max: self.f32()?,
                    },
                    ACT_HARDSIGMOID => Activation::HardSigmoid {
                        alpha: self.f32()?,
                        beta: self.f32()?,
                    },
                    ACT_HARDSWISH => Activation::HardSwish,
                    ACT_SIGMOID => Activation::Sigmoid,
                    ACT_TANH => Activation::Tanh,
                    ACT_LEAKY_RELU => Activation::LeakyRelu { alpha: self.f32()? },
                    other => {
                        return Err(self.bad(format!("node {node}: unknown activation {other}")))
                    }
                };
                (Op::Act(a), None)
            }
            OP_AFFINE => (
                Op::ChannelAffine {
                    scale: self.values(node)?,
                    shift: self.values(node)?,
                },
                None,
            ),
            OP_ADD => (Op::Add, None),
            OP_MUL => (Op::Mul, None),
            OP_GAP => (Op::GlobalAvgPool, None),
            OP_POOL => {
                let kind = if self.u8()? == 1 {
                    PoolKind::Max
                } else {
                    PoolKind::Average
                };
                let mut a = [0usize; 8];
                for v in a.iter_mut() {
                    *v = self.dim()?;
                }
                (
                    Op::Pool(Pool {
                        kind,
                        kh: a[0],
                        kw: a[1],
                        stride: [a[2], a[3]],
                        pads: [a[4], a[5], a[6], a[7]],
                    }),
                    None,
                )
            }
            OP_SOFTMAX => (Op::Softmax, None),
            OP_CONCAT => (Op::Concat, None),
            OP_VIEW => (Op::View(self.shape()?), None),
            // The sizes below are bounded here only by u32 / `dim`; `Graph::validate` then checks
            // each against its input with overflow-checked arithmetic, and nothing is sized from
            // them before that.
            OP_PRELU => (
                Op::Prelu {
                    slope: self.values(node)?,
                },
                None,
            ),
            OP_SUB => (Op::Sub, None),
            OP_PAD => {
                let mut pads = [0usize; 6];
                for v in pads.iter_mut() {
                    *v = self.dim()?;
                }
                (Op::Pad { pads }, None)
            }
            OP_DEPTH_TO_SPACE => (Op::DepthToSpace { block: self.dim()? }, None),
            OP_RESIZE_BILINEAR => {
                let (oh, ow) = (self.dim()?, self.dim()?);
                let flags = self.u8()?;
                if flags & !(RESIZE_ALIGN_CORNERS | RESIZE_HALF_PIXEL) != 0 {
                    return Err(self.bad(format!(
                        "node {node}: unknown resize flags {flags:#04x} (bit 0 align_corners, \
                         bit 1 half_pixel_centers)"
                    )));
                }
                (
                    Op::ResizeBilinear(Resize {
                        oh,
                        ow,
                        align_corners: flags & RESIZE_ALIGN_CORNERS != 0,
                        half_pixel_centers: flags & RESIZE_HALF_PIXEL != 0,
                    }),
                    None,
                )
            }
            OP_SLICE => {
                let mut a = [0usize; 6];
                for v in a.iter_mut() {
                    *v = self.u32()? as usize;
                }
                (
                    Op::Slice {
                        begin: [a[0], a[1], a[2]],
                        step: [a[3], a[4], a[5]],
                        out: self.shape()?,
                    },
                    None,
                )
            }
            OP_TO_HWC => (Op::ToHwc, None),
            OP_FROM_HWC => (Op::FromHwc(self.shape()?), None),
            other => return Err(self.bad(format!("node {node}: unknown op tag {other}"))),
        })
    }

    /// A weight block: dense `(c_out, per_out)` values, or a packed SpMM stream (1x1/FC,
    /// `per_out = c_in`), validated and densified for the graph.
    fn weights(
        &mut self,
        node: &str,
        c_out: usize,
        per_out: usize,
        c_in: usize,
    ) -> Result<(Vec<f32>, Option<SpmmWeights>)> {
        match self.u8()? {
            WEIGHTS_DENSE => Ok((self.values(node)?, None)),
            WEIGHTS_SPMM => {
                // A stream stores only the kept weights, so its dense c_out · c_in is not
                // bounded by the file (the zsk_cnn fuzz target found an 8 KB file densifying
                // to 200 MB): all packed layers of a file share limits::MAX_DENSIFIED.
                let n = c_out.saturating_mul(c_in);
                self.densify_left = match self.densify_left.checked_sub(n) {
                    Some(left) => left,
                    None => {
                        return Err(limits::too_large(
                            self.file,
                            node,
                            Some(4 * n as u64),
                            4 * MAX_DENSIFIED as u64,
                            format!(
                                "densifying a packed {c_out} × {c_in} layer (f32), with {} \
                                 elements of the file's densify budget left",
                                self.densify_left
                            ),
                        ))
                    }
                };
                let nr = self.dim()?;
                let first_ic = self.u32()?;
                let n_counts = self.count(4)?;
                let counts = (0..n_counts)
                    .map(|_| self.u32())
                    .collect::<Result<Vec<_>>>()?;
                let width = self.u8()?;
                if width != 2 && width != 4 {
                    return Err(self.bad(format!(
                        "node {node}: delta width {width} (expected 2 or 4)"
                    )));
                }
                let n = self.count(width as usize)?;
                let raw = self.take(n * width as usize)?;
                let deltas: Vec<i32> = if width == 2 {
                    raw.chunks_exact(2)
                        .map(|c| i16::from_le_bytes([c[0], c[1]]) as i32)
                        .collect()
                } else {
                    raw.chunks_exact(4)
                        .map(|c| i32::from_le_bytes(c.try_into().expect("4 bytes")))
                        .collect()
                };
                let values = self.values(node)?;
                if per_out != c_in {
                    return Err(
                        self.bad(format!("node {node}: a packed stream on a non-1x1 weight"))
                    );
                }
                // from_parts validates dims, counts, value count and every delta.
                let p = SpmmWeights::from_parts(
                    node, c_out, c_in, nr, first_ic, values, counts, deltas,
                )?;
                Ok((densify(&p), Some(p)))
            }
            other => Err(self.bad(format!("node {node}: unknown weight block kind {other}"))),
        }
    }
}

/// The dense `W (c_out, c_in)` a validated stream encodes (bias excluded).
fn densify(p: &SpmmWeights) -> Vec<f32> {
    let s = p.shape();
    let mut w = vec![0.0f32; s.c_out * s.c_in];
    let (mut v, mut d, mut ic, mut row) = (0usize, 0usize, p.first_ic() as i64, 0usize);
    for (b, &n) in p.counts().iter().enumerate() {
        let width = s.block_width(b);
        v += width; // bias
        for _ in 0..n {
            for j in 0..width {
                w[(row + j) * s.c_in + ic as usize] = p.values()[v + j];
            }
            v += width;
            ic += i64::from(p.deltas()[d]);
            d += 1;
        }
        row += width;
    }
    w
}
