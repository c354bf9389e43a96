//! Constant folding: TF ops whose inputs are all constants (shape arithmetic such as
//! Shape → StridedSlice → Pack → Reshape, or a weight passed through Identity/Cast) are
//! evaluated at import. Results are bounded by their inputs' sizes (no op here grows data
//! beyond the sum of its inputs), so a hostile file cannot make folding allocate much.

use super::json::NodeDef;
use crate::import::onnx::tensor::{Constant, Data};

/// Whether `op` is evaluated here when all its inputs are constants.
pub fn foldable(op: &str) -> bool {
    matches!(
        op,
        "Identity"
            | "StopGradient"
            | "Pack"
            | "StridedSlice"
            | "ConcatV2"
            | "Reshape"
            | "Squeeze"
            | "ExpandDims"
            | "Cast"
            | "Add"
            | "AddV2"
            | "Sub"
            | "Mul"
            | "RealDiv"
            | "FloorDiv"
            | "Maximum"
            | "Minimum"
            | "Neg"
    )
}

/// Evaluates `n` on constant inputs, or says why it cannot.
pub fn eval(n: &NodeDef, ins: &[Constant]) -> Result<Constant, String> {
    let first = ins.first().ok_or("has no inputs")?;
    match n.op.as_str() {
        "Identity" | "StopGradient" => Ok(first.clone()),
        "Cast" => {
            let to = n.attr.get("DstT").and_then(|v| v.get("type"));
            let float = to.and_then(|t| t.as_str()).is_some_and(|t| t == "DT_FLOAT");
            let data = match (&first.data, float) {
                (Data::F32(v), false) => Data::I64(v.iter().map(|&x| x as i64).collect()),
                (Data::I64(v), true) => Data::F32(v.iter().map(|&x| x as f32).collect()),
                (d, _) => d.clone(),
            };
            Ok(Constant {
                dims: first.dims.clone(),
                data,
            })
        }
        "Neg" => Ok(map(first, |x| -x, |x| x.wrapping_neg())),
        "Pack" => pack(n, ins),
        "ConcatV2" => concat(ins),
        "Reshape" => {
            let shape = ints(ins.get(1).ok_or("needs a shape input")?)?;
            let dims = reshape_dims(&first.dims, &shape)?;
            Ok(Constant {
                dims,
                data: first.data.clone(),
            })
        }
        "Squeeze" => {
            let axes = n.ints("squeeze_dims").ok_or("bad squeeze_dims")?;
            let dims = squeeze_dims(&first.dims, &axes)?;
            Ok(Constant {
                dims,
                data: first.data.clone(),
            })
        }
        "ExpandDims" => {
            let axis = ints(ins.get(1).ok_or("needs an axis input")?)?;
            let dims = expand_dims(&first.dims, *axis.first().ok_or("empty axis")?)?;
            Ok(Constant {
                dims,
                data: first.data.clone(),
            })
        }
        "StridedSlice" => {
            let [_, b, e, s] = ins else {
                return Err("takes 4 inputs".into());
            };
            let spec = Slice::new(n, &first.dims, &ints(b)?, &ints(e)?, &ints(s)?)?;
            Ok(spec.apply(first))
        }
        "Add" | "AddV2" | "Sub" | "Mul" | "RealDiv" | "FloorDiv" | "Maximum" | "Minimum" => {
            let b = ins.get(1).ok_or("takes 2 inputs")?;
            binary(&n.op, first, b)
        }
        other => Err(format!("{other} is not constant-foldable")),
    }
}

/// The values of an integer constant.
pub fn ints(c: &Constant) -> Result<Vec<i64>, String> {
    match &c.data {
        Data::I64(v) => Ok(v.clone()),
        Data::F32(v) if v.iter().all(|x| x.fract() == 0.0 && x.abs() < 1e15) => {
            Ok(v.iter().map(|&x| x as i64).collect())
        }
        Data::F32(_) => Err("expected an integer constant".into()),
    }
}

fn map(c: &Constant, f: impl Fn(f32) -> f32, g: impl Fn(i64) -> i64) -> Constant {
    let data = match &c.data {
        Data::F32(v) => Data::F32(v.iter().map(|&x| f(x)).collect()),
        Data::I64(v) => Data::I64(v.iter().map(|&x| g(x)).collect()),
    };
    Constant {
        dims: c.dims.clone(),
        data,
    }
}

/// Same shape, or one side a single value.
fn binary(op: &str, a: &Constant, b: &Constant) -> Result<Constant, String> {
    let (n, dims) = if a.len() == b.len() || b.len() == 1 {
        (a.len(), a.dims.clone())
    } else if a.len() == 1 {
        (b.len(), b.dims.clone())
    } else {
        return Err(format!(
            "cannot broadcast constants {:?} and {:?}",
            a.dims, b.dims
        ));
    };
    let at = |c: &Constant, i: usize| if c.len() == 1 { 0 } else { i };
    let data = match (&a.data, &b.data) {
        (Data::I64(x), Data::I64(y)) => {
            let f = |p: i64, q: i64| -> Result<i64, String> {
                Ok(match op {
                    "Add" | "AddV2" => p.wrapping_add(q),
                    "Sub" => p.wrapping_sub(q),
                    "Mul" => p.wrapping_mul(q),
                    "Maximum" => p.max(q),
                    "Minimum" => p.min(q),
                    _ if q == 0 => return Err("integer division by zero".into()),
                    _ => p.div_euclid(q),
                })
            };
            Data::I64(
                (0..n)
                    .map(|i| f(x[at(a, i)], y[at(b, i)]))
                    .collect::<Result<_, _>>()?,
            )
        }
        _ => {
            let (x, y) = (a.f32s(), b.f32s());
            let f = |p: f32, q: f32| match op {
                "Add" | "AddV2" => p + q,
                "Sub" => p - q,
                "Mul" => p * q,
                "Maximum" => p.max(q),
                "Minimum" => p.min(q),
                "FloorDiv" => (p / q).floor(),
                _ => p / q,
            };
            Data::F32((0..n).map(|i| f(x[at(a, i)], y[at(b, i)])).collect())
        }
    };
    Ok(Constant { dims, data })
}

fn pack(n: &NodeDef, ins: &[Constant]) -> Result<Constant, String> {
    let first = &ins[0];
    if ins.iter().any(|c| c.dims != first.dims) {
        return Err("Pack inputs differ in shape".into());
    }
    let rank = first.dims.len() as i64 + 1;
    let axis = n.int("axis").unwrap_or(0);
    let axis = if axis < 0 { axis + rank } else { axis };
    if !(0..rank).contains(&axis) {
        return Err(format!("axis {axis} out of range for rank {rank}"));
    }
    let axis = axis as usize;
    let mut dims = first.dims.clone();
    dims.insert(axis, ins.len());
    // Pack along `axis` = interleave blocks of `inner` values from each input.
    let inner: usize = first.dims[axis..].iter().product();
    let outer = first.len() / inner.max(1);
    fn interleave<T: Copy>(vals: &[&[T]], outer: usize, inner: usize) -> Vec<T> {
        let mut out = Vec::with_capacity(outer * inner * vals.len());
        for o in 0..outer {
            for v in vals {
                out.extend_from_slice(&v[o * inner..(o + 1) * inner]);
            }
        }
        out
    }
    let ints: Option<Vec<&[i64]>> = ins.iter().map(|c| c.i64s()).collect();
    let data = match ints {
        Some(v) => Data::I64(interleave(&v, outer, inner)),
        None => {
            let vals: Vec<Vec<f32>> = ins.iter().map(|c| c.f32s()).collect();
            let refs: Vec<&[f32]> = vals.iter().map(|v| v.as_slice()).collect();
            Data::F32(interleave(&refs, outer, inner))
        }
    };
    Ok(Constant { dims, data })
}

fn concat(ins: &[Constant]) -> Result<Constant, String> {
    let (axis_c, parts) = ins.split_last().ok_or("no inputs")?;
    let first = parts.first().ok_or("nothing to concatenate")?;
    let rank = first.dims.len() as i64;
    let axis = *ints(axis_c)?.first().ok_or("empty axis")?;
    let axis = if axis < 0 { axis + rank } else { axis };
    if !(0..rank).contains(&axis) {
        return Err(format!("axis {axis} out of range for rank {rank}"));
    }
    let axis = axis as usize;
    let same_rest = |c: &Constant| {
        c.dims.len() == first.dims.len()
            && c.dims
                .iter()
                .zip(&first.dims)
                .enumerate()
                .all(|(i, (a, b))| i == axis || a == b)
    };
    if !parts.iter().all(same_rest) {
        return Err("ConcatV2 inputs differ outside the axis".into());
    }
    let outer: usize = first.dims[..axis].iter().product();
    let mut dims = first.dims.clone();
    dims[axis] = parts.iter().map(|c| c.dims[axis]).sum();
    let block = |c: &Constant| c.dims[axis..].iter().product::<usize>();
    let data = if parts.iter().all(|c| matches!(c.data, Data::I64(_))) {
        let mut out = Vec::new();
        for o in 0..outer {
            for c in parts {
                let b = block(c);
                out.extend_from_slice(&c.i64s().unwrap_or(&[])[o * b..(o + 1) * b]);
            }
        }
        Data::I64(out)
    } else {
        let vals: Vec<Vec<f32>> = parts.iter().map(|c| c.f32s()).collect();
        let mut out = Vec::new();
        for o in 0..outer {
            for (c, v) in parts.iter().zip(&vals) {
                let b = block(c);
                out.extend_from_slice(&v[o * b..(o + 1) * b]);
            }
        }
        Data::F32(out)
    };
    Ok(Constant { dims, data })
}

/// TF Reshape's target dims (one `-1` inferred), checked against the element count.
pub fn reshape_dims(from: &[usize], shape: &[i64]) -> Result<Vec<usize>, String> {
    let total: usize = from.iter().product();
    let known = shape
        .iter()
        .filter(|&&d| d != -1)
        .try_fold(1usize, |a, &d| {
            usize::try_from(d).ok().and_then(|d| a.checked_mul(d))
        })
        .ok_or_else(|| format!("bad target shape {shape:?}"))?;
    let unknown = shape.iter().filter(|&&d| d == -1).count();
    let dims: Vec<usize> = match unknown {
        0 => shape.iter().map(|&d| d as usize).collect(),
        1 if known > 0 && total % known == 0 => shape
            .iter()
            .map(|&d| if d == -1 { total / known } else { d as usize })
            .collect(),
        _ => return Err(format!("cannot reshape {from:?} to {shape:?}")),
    };
    if dims.iter().product::<usize>() != total {
        return Err(format!("cannot reshape {from:?} to {shape:?}"));
    }
    Ok(dims)
}

/// TF Squeeze: the listed axes (all size-1 axes when none are listed) removed.
pub fn squeeze_dims(from: &[usize], axes: &[i64]) -> Result<Vec<usize>, String> {
    let rank = from.len() as i64;
    let mut drop = vec![false; from.len()];
    if axes.is_empty() {
        from.iter().zip(&mut drop).for_each(|(&d, k)| *k = d == 1);
    }
    for &a in axes {
        let a = if a < 0 { a + rank } else { a };
        if !(0..rank).contains(&a) || from[a as usize] != 1 {
            return Err(format!("cannot squeeze axis {a} of {from:?}"));
        }
        drop[a as usize] = true;
    }
    Ok(from
        .iter()
        .zip(&drop)
        .filter(|(_, &k)| !k)
        .map(|(&d, _)| d)
        .collect())
}

/// TF ExpandDims: a size-1 axis inserted at `axis` (negative counts from the end).
pub fn expand_dims(from: &[usize], axis: i64) -> Result<Vec<usize>, String> {
    let rank = from.len() as i64 + 1;
    let a = if axis < 0 { axis + rank } else { axis };
    if !(0..rank).contains(&a) {
        return Err(format!("axis {axis} out of range for rank {rank}"));
    }
    let mut dims = from.to_vec();
    dims.insert(a as usize, 1);
    Ok(dims)
}

/// A resolved TF StridedSlice: per input axis a start, a step and a count; `keep` says
/// which axes stay in the output (shrink_axis_mask drops the rest).
#[derive(Debug, Clone)]
pub struct Slice {
    pub start: Vec<usize>,
    pub step: Vec<i64>,
    pub count: Vec<usize>,
    pub keep: Vec<bool>,
}

impl Slice {
    /// TF semantics for begin/end/strides with begin, end and shrink masks; ellipsis and
    /// new-axis masks are refused.
    pub fn new(
        n: &NodeDef,
        dims: &[usize],
        begin: &[i64],
        end: &[i64],
        strides: &[i64],
    ) -> Result<Slice, String> {
        let mask = |k: &str| n.int(k).unwrap_or(0);
        if mask("ellipsis_mask") != 0 || mask("new_axis_mask") != 0 {
            return Err("ellipsis_mask / new_axis_mask are not supported".into());
        }
        let (bm, em, sm) = (
            mask("begin_mask"),
            mask("end_mask"),
            mask("shrink_axis_mask"),
        );
        let k = begin.len();
        if end.len() != k || strides.len() != k || k > dims.len() {
            return Err(format!(
                "begin/end/strides of {}/{}/{} entries for rank {}",
                begin.len(),
                end.len(),
                strides.len(),
                dims.len()
            ));
        }
        let mut s = Slice {
            start: Vec::new(),
            step: Vec::new(),
            count: Vec::new(),
            keep: Vec::new(),
        };
        for (i, &d) in dims.iter().enumerate() {
            let d = d as i64;
            if i >= k {
                s.push(0, 1, d as usize, true);
                continue;
            }
            let st = strides[i];
            if st == 0 {
                return Err("stride 0".into());
            }
            let bit = |m: i64| (m >> i) & 1 == 1;
            let norm = |v: i64| if v < 0 { v + d } else { v };
            if bit(sm) {
                let b = norm(begin[i]);
                if !(0..d).contains(&b) {
                    return Err(format!(
                        "index {} out of range for axis {i} of {d}",
                        begin[i]
                    ));
                }
                s.push(b as usize, 1, 1, false);
                continue;
            }
            let (lo, hi) = if st > 0 { (0, d) } else { (-1, d - 1) };
            let b = if bit(bm) {
                if st > 0 {
                    lo
                } else {
                    hi
                }
            } else {
                norm(begin[i]).clamp(lo, hi)
            };
            let e = if bit(em) {
                if st > 0 {
                    hi
                } else {
                    lo
                }
            } else {
                norm(end[i]).clamp(lo, hi)
            };
            let count = if st > 0 {
                (e - b).max(0).div_euclid(st) + i64::from((e - b).max(0) % st != 0)
            } else {
                (b - e).max(0).div_euclid(-st) + i64::from((b - e).max(0) % -st != 0)
            };
            s.push(b.max(0) as usize, st, count as usize, true);
        }
        Ok(s)
    }

    fn push(&mut self, start: usize, step: i64, count: usize, keep: bool) {
        self.start.push(start);
        self.step.push(step);
        self.count.push(count);
        self.keep.push(keep);
    }

    /// The output dims (shrunk axes removed).
    pub fn dims(&self) -> Vec<usize> {
        self.count
            .iter()
            .zip(&self.keep)
            .filter(|(_, &k)| k)
            .map(|(&c, _)| c)
            .collect()
    }

    fn apply(&self, c: &Constant) -> Constant {
        let rank = self.start.len();
        let mut strides_in = vec![1usize; rank];
        for i in (0..rank.saturating_sub(1)).rev() {
            strides_in[i] = strides_in[i + 1] * c.dims[i + 1];
        }
        let total: usize = self.count.iter().product();
        let mut idx = Vec::with_capacity(total);
        let mut pos = vec![0usize; rank];
        for _ in 0..total {
            let off: i64 = (0..rank)
                .map(|i| {
                    (self.start[i] as i64 + pos[i] as i64 * self.step[i]) * strides_in[i] as i64
                })
                .sum();
            idx.push(off as usize);
            for i in (0..rank).rev() {
                pos[i] += 1;
                if pos[i] < self.count[i] {
                    break;
                }
                pos[i] = 0;
            }
        }
        let data = match &c.data {
            Data::F32(v) => Data::F32(idx.iter().map(|&i| v[i]).collect()),
            Data::I64(v) => Data::I64(idx.iter().map(|&i| v[i]).collect()),
        };
        Constant {
            dims: self.dims(),
            data,
        }
    }
}
