//! The parts of a TF.js graph-model `model.json` that import reads, as serde types, plus
//! readers for node attributes (TF's `AttrValue` in JSON form: ints as strings, strings as
//! base64).

use serde::Deserialize;
use serde_json::Value as Json;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
pub struct ModelJson {
    #[serde(default)]
    pub format: Option<String>,
    #[serde(rename = "modelTopology")]
    pub topology: Topology,
    #[serde(rename = "weightsManifest", default)]
    pub manifest: Vec<WeightGroup>,
    #[serde(default)]
    pub signature: Option<Signature>,
}

#[derive(Debug, Deserialize)]
pub struct Topology {
    #[serde(default)]
    pub node: Vec<NodeDef>,
}

#[derive(Debug, Deserialize)]
pub struct NodeDef {
    pub name: String,
    pub op: String,
    #[serde(default)]
    pub input: Vec<String>,
    #[serde(default)]
    pub attr: BTreeMap<String, Json>,
}

#[derive(Debug, Deserialize)]
pub struct WeightGroup {
    pub paths: Vec<String>,
    pub weights: Vec<WeightEntry>,
}

#[derive(Debug, Deserialize)]
pub struct WeightEntry {
    pub name: String,
    pub shape: Vec<i64>,
    pub dtype: String,
    #[serde(default)]
    pub quantization: Option<Quantization>,
}

/// `value = q · scale + min` for uint8/uint16; float16 stores halves of the original floats.
#[derive(Debug, Deserialize)]
pub struct Quantization {
    pub dtype: String,
    #[serde(default)]
    pub scale: Option<f64>,
    #[serde(default)]
    pub min: Option<f64>,
}

#[derive(Debug, Deserialize)]
pub struct Signature {
    #[serde(default)]
    pub outputs: BTreeMap<String, TensorInfo>,
}

#[derive(Debug, Deserialize)]
pub struct TensorInfo {
    pub name: String,
}

impl NodeDef {
    fn attr_field(&self, key: &str, field: &str) -> Option<&Json> {
        self.attr.get(key)?.get(field)
    }

    /// An int attribute (`{"i": "2"}`; TF writes int64 as a string).
    pub fn int(&self, key: &str) -> Option<i64> {
        json_int(self.attr_field(key, "i")?)
    }

    pub fn float(&self, key: &str) -> Option<f64> {
        self.attr_field(key, "f")?.as_f64()
    }

    pub fn boolean(&self, key: &str) -> Option<bool> {
        self.attr_field(key, "b")?.as_bool()
    }

    /// A string attribute (`{"s": base64}`), decoded; `None` when absent or not base64 text.
    pub fn string(&self, key: &str) -> Option<String> {
        let b = base64(self.attr_field(key, "s")?.as_str()?)?;
        String::from_utf8(b).ok()
    }

    /// An int list (`{"list": {"i": [...]}}`); an empty list when the attribute is absent.
    pub fn ints(&self, key: &str) -> Option<Vec<i64>> {
        let Some(list) = self.attr_field(key, "list") else {
            return Some(Vec::new());
        };
        match list.get("i") {
            None => Some(Vec::new()),
            Some(Json::Array(a)) => a.iter().map(json_int).collect(),
            Some(_) => None,
        }
    }

    /// A string list (`{"list": {"s": [base64, ...]}}`), decoded.
    pub fn strings(&self, key: &str) -> Option<Vec<String>> {
        let Some(list) = self.attr_field(key, "list") else {
            return Some(Vec::new());
        };
        match list.get("s") {
            None => Some(Vec::new()),
            Some(Json::Array(a)) => a
                .iter()
                .map(|v| String::from_utf8(base64(v.as_str()?)?).ok())
                .collect(),
            Some(_) => None,
        }
    }

    /// The dims of a `shape` attribute (`{"shape": {"dim": [{"size": "-1"}, ...]}}`); an
    /// unknown rank gives `None`.
    pub fn shape(&self, key: &str) -> Option<Vec<i64>> {
        let s = self.attr_field(key, "shape")?;
        if s.get("unknownRank").and_then(Json::as_bool) == Some(true) {
            return None;
        }
        match s.get("dim") {
            None => Some(Vec::new()),
            Some(Json::Array(dims)) => dims
                .iter()
                .map(|d| d.get("size").map_or(Some(0), json_int))
                .collect(),
            Some(_) => None,
        }
    }
}

/// An int written as a JSON string (`"-1"`) or number.
fn json_int(v: &Json) -> Option<i64> {
    match v {
        Json::String(s) => s.parse().ok(),
        Json::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// Standard base64 (padding optional); `None` on any other character.
pub fn base64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes().take_while(|&c| c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::base64;

    #[test]
    fn base64_decodes_tf_attribute_strings() {
        assert_eq!(base64("TkhXQw==").as_deref(), Some(&b"NHWC"[..]));
        assert_eq!(base64("U0FNRQ==").as_deref(), Some(&b"SAME"[..]));
        assert_eq!(base64("VkFMSUQ=").as_deref(), Some(&b"VALID"[..]));
        assert_eq!(base64("Qmlhc0FkZA==").as_deref(), Some(&b"BiasAdd"[..]));
        assert_eq!(base64("UmVsdTY").as_deref(), Some(&b"Relu6"[..]));
        assert_eq!(base64("a b"), None);
    }
}
