//! Weights of the windowed convs, checked against their params once at load time. The layouts
//! are the model file's own (ONNX OIHW), which is what every kernel here reads: depthwise
//! kernels splat one channel's taps, stem kernels splat one tap across output channels, and
//! neither gains from reordering.

use super::params::{ConvParams, DwConvParams};
use crate::error::{Error, Result};

/// Depthwise weights `w (C, KH·KW)` and bias `b (C)` (zeros when the model has none).
#[derive(Debug, Clone, PartialEq)]
pub struct DwConvWeights {
    name: String,
    params: DwConvParams,
    w: Vec<f32>,
    bias: Vec<f32>,
}

impl DwConvWeights {
    /// `w (C, 1, KH, KW)` as ONNX stores a depthwise kernel, `bias (C)` or none.
    pub fn pack(
        name: &str,
        w: &[f32],
        bias: Option<&[f32]>,
        params: DwConvParams,
    ) -> Result<DwConvWeights> {
        let win = params.geometry().window();
        let (c, taps) = (params.channels(), win.kh * win.kw);
        check_len(
            name,
            format!("weight ({c}, 1, {}, {})", win.kh, win.kw),
            c * taps,
            w.len(),
        )?;
        Ok(DwConvWeights {
            name: name.into(),
            params,
            w: w.to_vec(),
            bias: bias_or_zeros(name, bias, c)?,
        })
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn params(&self) -> &DwConvParams {
        &self.params
    }
    /// `w (C, KH·KW)`.
    pub fn weights(&self) -> &[f32] {
        &self.w
    }
    /// `b (C)`.
    pub fn bias(&self) -> &[f32] {
        &self.bias
    }
}

/// Full-conv weights `w (C_out, C_in·KH·KW)` and bias `b (C_out)` (zeros when none).
#[derive(Debug, Clone, PartialEq)]
pub struct ConvWeights {
    name: String,
    params: ConvParams,
    w: Vec<f32>,
    bias: Vec<f32>,
}

impl ConvWeights {
    /// `w (C_out, C_in, KH, KW)` (ONNX OIHW), `bias (C_out)` or none.
    pub fn pack(
        name: &str,
        w: &[f32],
        bias: Option<&[f32]>,
        params: ConvParams,
    ) -> Result<ConvWeights> {
        let win = params.geometry().window();
        let (co, ci) = (params.c_out(), params.c_in());
        let need = co * ci * win.kh * win.kw;
        check_len(
            name,
            format!("weight ({co}, {ci}, {}, {})", win.kh, win.kw),
            need,
            w.len(),
        )?;
        Ok(ConvWeights {
            name: name.into(),
            params,
            w: w.to_vec(),
            bias: bias_or_zeros(name, bias, co)?,
        })
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn params(&self) -> &ConvParams {
        &self.params
    }
    /// `w (C_out, C_in·KH·KW)`.
    pub fn weights(&self) -> &[f32] {
        &self.w
    }
    /// `b (C_out)`.
    pub fn bias(&self) -> &[f32] {
        &self.bias
    }
}

fn check_len(name: &str, what: String, expected: usize, got: usize) -> Result<()> {
    if expected != got {
        return Err(Error::ShapeMismatch {
            tensor: name.into(),
            what,
            expected,
            got,
        });
    }
    Ok(())
}

/// A bias of `n` values, or `n` zeros: kernels always add one, which costs nothing per tap.
fn bias_or_zeros(name: &str, bias: Option<&[f32]>, n: usize) -> Result<Vec<f32>> {
    match bias {
        Some(b) => {
            check_len(name, format!("bias ({n},)"), n, b.len())?;
            Ok(b.to_vec())
        }
        None => Ok(vec![0.0; n]),
    }
}
