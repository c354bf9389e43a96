//! Metadata values: the 13 GGUF value types, arrays of any of them but arrays.

use super::cursor::Cursor;
use super::{bad, Gguf};
use crate::error::Result;

/// One metadata value, as typed in the file.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    String(String),
    Array(Array),
    U64(u64),
    I64(i64),
    F64(f64),
}

/// A metadata array: elements of one type. Arrays of arrays are refused when reading (the spec
/// allows them, no model uses them, and llama.cpp refuses them too).
#[derive(Debug, Clone, PartialEq)]
pub enum Array {
    U8(Vec<u8>),
    I8(Vec<i8>),
    U16(Vec<u16>),
    I16(Vec<i16>),
    U32(Vec<u32>),
    I32(Vec<i32>),
    F32(Vec<f32>),
    Bool(Vec<bool>),
    String(Vec<String>),
    U64(Vec<u64>),
    I64(Vec<i64>),
    F64(Vec<f64>),
}

/// The value type ids of the spec (`gguf_metadata_value_type`).
const U8: u32 = 0;
const I8: u32 = 1;
const U16: u32 = 2;
const I16: u32 = 3;
const U32: u32 = 4;
const I32: u32 = 5;
const F32: u32 = 6;
const BOOL: u32 = 7;
const STRING: u32 = 8;
const ARRAY: u32 = 9;
const U64: u32 = 10;
const I64: u32 = 11;
const F64: u32 = 12;

use crate::limits::MAX_GGUF_ARRAY_LEN;

/// Fewest bytes one value of type `t` takes in the file (a string: its u64 length).
fn min_bytes(t: u32) -> usize {
    match t {
        U8 | I8 | BOOL => 1,
        U16 | I16 => 2,
        U32 | I32 | F32 => 4,
        U64 | I64 | F64 | STRING => 8,
        _ => 12, // an array: u32 type + u64 length
    }
}

fn type_name(t: u32) -> &'static str {
    match t {
        U8 => "u8",
        I8 => "i8",
        U16 => "u16",
        I16 => "i16",
        U32 => "u32",
        I32 => "i32",
        F32 => "f32",
        BOOL => "bool",
        STRING => "string",
        ARRAY => "array",
        U64 => "u64",
        I64 => "i64",
        F64 => "f64",
        _ => "unknown",
    }
}

/// Reads one value of type `t`; `what` names it (file offset, key) for errors.
pub(super) fn read_value(
    file: &str,
    c: &mut Cursor,
    t: u32,
    what: &dyn Fn() -> String,
) -> Result<Value> {
    Ok(match t {
        U8 => Value::U8(c.array::<1>(what)?[0]),
        I8 => Value::I8(c.array::<1>(what)?[0] as i8),
        U16 => Value::U16(u16::from_le_bytes(c.array(what)?)),
        I16 => Value::I16(i16::from_le_bytes(c.array(what)?)),
        U32 => Value::U32(u32::from_le_bytes(c.array(what)?)),
        I32 => Value::I32(i32::from_le_bytes(c.array(what)?)),
        F32 => Value::F32(f32::from_le_bytes(c.array(what)?)),
        BOOL => Value::Bool(read_bool(file, c, what)?),
        STRING => Value::String(c.value_string(what)?),
        U64 => Value::U64(u64::from_le_bytes(c.array(what)?)),
        I64 => Value::I64(i64::from_le_bytes(c.array(what)?)),
        F64 => Value::F64(f64::from_le_bytes(c.array(what)?)),
        ARRAY => Value::Array(read_array(file, c, what)?),
        other => return Err(unknown_type(file, other, c.pos().saturating_sub(4), what)),
    })
}

fn unknown_type(file: &str, t: u32, at: usize, what: &dyn Fn() -> String) -> crate::Error {
    bad(
        file,
        format!(
            "{} has value type {t} (at offset {at}); GGUF value types are 0..=12",
            what()
        ),
    )
}

fn read_bool(file: &str, c: &mut Cursor, what: &dyn Fn() -> String) -> Result<bool> {
    let at = c.pos();
    match c.array::<1>(what)?[0] {
        0 => Ok(false),
        1 => Ok(true),
        b => Err(bad(
            file,
            format!(
                "{} is a bool of value {b} (at offset {at}); only 0 and 1 are valid",
                what()
            ),
        )),
    }
}

fn read_array(file: &str, c: &mut Cursor, what: &dyn Fn() -> String) -> Result<Array> {
    let at = c.pos();
    let t = c.u32(&|| format!("the element type of {}", what()))?;
    if t == ARRAY {
        return Err(crate::Error::Unsupported {
            what: format!("{file}: {} (at offset {at})", what()),
            value: "an array of arrays".into(),
            expected: "arrays of scalars or strings".into(),
        });
    }
    if t > F64 {
        return Err(unknown_type(file, t, at, what));
    }
    let n = c.count(min_bytes(t), MAX_GGUF_ARRAY_LEN, &|| {
        format!("the length of {}", what())
    })?;
    // `count` checked that n elements of at least min_bytes(t) each fit in the bytes left.
    fn fixed<const N: usize, T>(
        c: &mut Cursor,
        n: usize,
        what: &dyn Fn() -> String,
        f: impl Fn([u8; N]) -> T,
    ) -> Result<Vec<T>> {
        let raw = c.take(n * N, what)?;
        Ok(raw
            .chunks_exact(N)
            .map(|b| f(b.try_into().expect("chunks_exact")))
            .collect())
    }
    Ok(match t {
        U8 => Array::U8(fixed(c, n, what, |b: [u8; 1]| b[0])?),
        I8 => Array::I8(fixed(c, n, what, |b: [u8; 1]| b[0] as i8)?),
        U16 => Array::U16(fixed(c, n, what, u16::from_le_bytes)?),
        I16 => Array::I16(fixed(c, n, what, i16::from_le_bytes)?),
        U32 => Array::U32(fixed(c, n, what, u32::from_le_bytes)?),
        I32 => Array::I32(fixed(c, n, what, i32::from_le_bytes)?),
        F32 => Array::F32(fixed(c, n, what, f32::from_le_bytes)?),
        U64 => Array::U64(fixed(c, n, what, u64::from_le_bytes)?),
        I64 => Array::I64(fixed(c, n, what, i64::from_le_bytes)?),
        F64 => Array::F64(fixed(c, n, what, f64::from_le_bytes)?),
        BOOL => {
            let mut v = Vec::with_capacity(n);
            for i in 0..n {
                v.push(read_bool(file, c, &|| format!("{}[{i}]", what()))?);
            }
            Array::Bool(v)
        }
        _ => {
            // Not sized from n: a String is 24 bytes, its length in the file 8.
            let mut v = Vec::new();
            for i in 0..n {
                v.push(c.value_string(&|| format!("{}[{i}]", what()))?);
            }
            Array::String(v)
        }
    })
}

impl Value {
    /// The spec's name of this value's type: `u32`, `string`, `array[string]`, ...
    pub fn type_name(&self) -> String {
        match self {
            Value::Array(a) => format!("array[{}]", type_name(a.type_id())),
            v => type_name(v.type_id()).into(),
        }
    }

    /// Appends the value's type id and bytes, as [`read_value`] reads them (the writer's half of
    /// the format, kept beside the reader).
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.type_id().to_le_bytes());
        self.encode_body(out);
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        match self {
            Value::U8(v) => out.push(*v),
            Value::I8(v) => out.push(*v as u8),
            Value::U16(v) => out.extend_from_slice(&v.to_le_bytes()),
            Value::I16(v) => out.extend_from_slice(&v.to_le_bytes()),
            Value::U32(v) => out.extend_from_slice(&v.to_le_bytes()),
            Value::I32(v) => out.extend_from_slice(&v.to_le_bytes()),
            Value::F32(v) => out.extend_from_slice(&v.to_le_bytes()),
            Value::Bool(v) => out.push(*v as u8),
            Value::String(v) => crate::export::gguf::put_str(out, v),
            Value::U64(v) => out.extend_from_slice(&v.to_le_bytes()),
            Value::I64(v) => out.extend_from_slice(&v.to_le_bytes()),
            Value::F64(v) => out.extend_from_slice(&v.to_le_bytes()),
            Value::Array(a) => {
                out.extend_from_slice(&a.type_id().to_le_bytes());
                out.extend_from_slice(&(a.len() as u64).to_le_bytes());
                macro_rules! each {
                    ($v:expr, $f:expr) => {
                        $v.iter().for_each(|x| $f(x))
                    };
                }
                let mut le = |b: &[u8]| out.extend_from_slice(b);
                match a {
                    Array::U8(v) => each!(v, |x: &u8| le(&[*x])),
                    Array::I8(v) => each!(v, |x: &i8| le(&[*x as u8])),
                    Array::U16(v) => each!(v, |x: &u16| le(&x.to_le_bytes())),
                    Array::I16(v) => each!(v, |x: &i16| le(&x.to_le_bytes())),
                    Array::U32(v) => each!(v, |x: &u32| le(&x.to_le_bytes())),
                    Array::I32(v) => each!(v, |x: &i32| le(&x.to_le_bytes())),
                    Array::F32(v) => each!(v, |x: &f32| le(&x.to_le_bytes())),
                    Array::Bool(v) => each!(v, |x: &bool| le(&[*x as u8])),
                    Array::String(v) => each!(v, |x: &String| {
                        le(&(x.len() as u64).to_le_bytes());
                        le(x.as_bytes())
                    }),
                    Array::U64(v) => each!(v, |x: &u64| le(&x.to_le_bytes())),
                    Array::I64(v) => each!(v, |x: &i64| le(&x.to_le_bytes())),
                    Array::F64(v) => each!(v, |x: &f64| le(&x.to_le_bytes())),
                }
            }
        }
    }

    fn type_id(&self) -> u32 {
        match self {
            Value::U8(_) => U8,
            Value::I8(_) => I8,
            Value::U16(_) => U16,
            Value::I16(_) => I16,
            Value::U32(_) => U32,
            Value::I32(_) => I32,
            Value::F32(_) => F32,
            Value::Bool(_) => BOOL,
            Value::String(_) => STRING,
            Value::Array(_) => ARRAY,
            Value::U64(_) => U64,
            Value::I64(_) => I64,
            Value::F64(_) => F64,
        }
    }

    /// Any integer type holding a value ≥ 0 (the spec asks readers to accept u32 and u64 for
    /// counts alike).
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U8(v) => Some(v.into()),
            Value::U16(v) => Some(v.into()),
            Value::U32(v) => Some(v.into()),
            Value::U64(v) => Some(v),
            Value::I8(v) => u64::try_from(v).ok(),
            Value::I16(v) => u64::try_from(v).ok(),
            Value::I32(v) => u64::try_from(v).ok(),
            Value::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// f32 or f64 (rounded to f32).
    pub fn as_f32(&self) -> Option<f32> {
        match *self {
            Value::F32(v) => Some(v),
            Value::F64(v) => Some(v as f32),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&Array> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
}

impl Array {
    fn type_id(&self) -> u32 {
        match self {
            Array::U8(_) => U8,
            Array::I8(_) => I8,
            Array::U16(_) => U16,
            Array::I16(_) => I16,
            Array::U32(_) => U32,
            Array::I32(_) => I32,
            Array::F32(_) => F32,
            Array::Bool(_) => BOOL,
            Array::String(_) => STRING,
            Array::U64(_) => U64,
            Array::I64(_) => I64,
            Array::F64(_) => F64,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Array::U8(v) => v.len(),
            Array::I8(v) => v.len(),
            Array::U16(v) => v.len(),
            Array::I16(v) => v.len(),
            Array::U32(v) => v.len(),
            Array::I32(v) => v.len(),
            Array::F32(v) => v.len(),
            Array::Bool(v) => v.len(),
            Array::String(v) => v.len(),
            Array::U64(v) => v.len(),
            Array::I64(v) => v.len(),
            Array::F64(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every element as an i64, for arrays of any integer type (u64 values above i64::MAX
    /// give None).
    pub fn to_i64s(&self) -> Option<Vec<i64>> {
        Some(match self {
            Array::U8(v) => v.iter().map(|&x| x.into()).collect(),
            Array::I8(v) => v.iter().map(|&x| x.into()).collect(),
            Array::U16(v) => v.iter().map(|&x| x.into()).collect(),
            Array::I16(v) => v.iter().map(|&x| x.into()).collect(),
            Array::U32(v) => v.iter().map(|&x| x.into()).collect(),
            Array::I32(v) => v.iter().map(|&x| x.into()).collect(),
            Array::I64(v) => v.clone(),
            Array::U64(v) => v
                .iter()
                .map(|&x| i64::try_from(x).ok())
                .collect::<Option<_>>()?,
            _ => return None,
        })
    }
}

/// Typed metadata access: a missing key or a value of another type is an error naming the file
/// and the key.
impl Gguf<'_> {
    fn need(&self, key: &str) -> Result<&Value> {
        self.get(key)
            .ok_or_else(|| bad(&self.file, format!("metadata key '{key}' is missing")))
    }

    fn wrong(&self, key: &str, v: &Value, expected: &str) -> crate::Error {
        bad(
            &self.file,
            format!(
                "metadata key '{key}' is {}, expected {expected}",
                v.type_name()
            ),
        )
    }

    /// An integer ≥ 0 of any integer type.
    pub fn get_u64(&self, key: &str) -> Result<u64> {
        let v = self.need(key)?;
        v.as_u64()
            .ok_or_else(|| self.wrong(key, v, "an integer ≥ 0"))
    }

    /// [`Gguf::get_u64`] that must also fit a usize and be at most `max`.
    pub fn get_usize(&self, key: &str, max: usize) -> Result<usize> {
        let n = self.get_u64(key)?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= max)
            .ok_or_else(|| crate::Error::DimOutOfRange {
                tensor: format!("{}: metadata '{key}'", self.file),
                what: key.into(),
                value: n,
                limit: format!("at most {max}"),
            })
    }

    pub fn get_f32(&self, key: &str) -> Result<f32> {
        let v = self.need(key)?;
        v.as_f32().ok_or_else(|| self.wrong(key, v, "f32"))
    }

    pub fn get_bool(&self, key: &str) -> Result<bool> {
        let v = self.need(key)?;
        v.as_bool().ok_or_else(|| self.wrong(key, v, "bool"))
    }

    pub fn get_str(&self, key: &str) -> Result<&str> {
        let v = self.need(key)?;
        v.as_str().ok_or_else(|| self.wrong(key, v, "string"))
    }

    /// Refuses a file whose string `key` is not `want` (an architecture, a tokenizer model
    /// that zeroskip does not implement); `expected` describes `want` for the message.
    pub fn require_str(&self, key: &str, want: &str, expected: &str) -> Result<()> {
        let v = self.get_str(key)?;
        if v != want {
            return Err(crate::Error::Unsupported {
                what: format!("{}: {key}", self.file()),
                value: v.into(),
                expected: expected.into(),
            });
        }
        Ok(())
    }

    pub fn get_array(&self, key: &str) -> Result<&Array> {
        let v = self.need(key)?;
        v.as_array().ok_or_else(|| self.wrong(key, v, "an array"))
    }

    pub fn get_strings(&self, key: &str) -> Result<&[String]> {
        let v = self.need(key)?;
        match v {
            Value::Array(Array::String(s)) => Ok(s),
            _ => Err(self.wrong(key, v, "array[string]")),
        }
    }
}
