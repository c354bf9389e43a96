//! Calibration and evaluation inputs from a folder of photos (.jpg/.jpeg/.png), preprocessed
//! as the zoo's `tools/zoo/preprocess.py` does with PIL: decode as RGB, resize the shorter side
//! to 256 with PIL's antialiased bilinear filter (ported here, fixed-point and all, so the
//! pixels match PIL's), center-crop `size`², `(pixel / 255 - mean[c]) / std[c]` in f32, CHW.
//! Native only: the browser decodes and resizes its photos in www/classify.js.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// File extensions (lower case) that [`load_folder`] decodes; other files are skipped.
pub const EXTENSIONS: [&str; 3] = ["jpg", "jpeg", "png"];

/// How a model wants its input image: a zoo `<model>.json`'s `size`, `mean`, `std`, `resize`.
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocess {
    /// The square crop fed to the model (224).
    pub size: usize,
    /// The shorter side is resized to this before the center crop (256).
    pub resize_shorter: usize,
    /// Per-channel (R, G, B) mean and std on the 0..1 pixel scale.
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Preprocess {
    /// A validated rule: `0 < size <= resize_shorter`, finite means, positive finite stds.
    pub fn new(size: usize, resize_shorter: usize, mean: [f32; 3], std: [f32; 3]) -> Result<Self> {
        let bad = |detail: String| Error::BadArgument {
            what: "preprocess".into(),
            detail,
        };
        if size == 0 || size > resize_shorter || resize_shorter > 16384 {
            return Err(bad(format!(
                "crop {size} of a shorter side resized to {resize_shorter} is not 0 < crop <= side <= 16384"
            )));
        }
        if mean.iter().any(|m| !m.is_finite()) || std.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(bad(format!(
                "mean {mean:?} / std {std:?} not finite and positive"
            )));
        }
        Ok(Preprocess {
            size,
            resize_shorter,
            mean,
            std,
        })
    }

    /// Reads a zoo `<model>.json` (see [`Preprocess::from_json`]).
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| io(path, e.to_string()))?;
        Self::from_json(&path.display().to_string(), &text)
    }

    /// The fields of a zoo model's json (`file` names it in errors): `"size"`, `"mean"` and
    /// `"std"` (three numbers each) are required; `"resize"`, if present, must say
    /// "shorter side to N" with a bilinear filter (default 256); `"layout"`, if present, NCHW.
    pub fn from_json(file: &str, text: &str) -> Result<Self> {
        let err = |detail: String| Error::Io {
            file: file.into(),
            detail,
        };
        let size = json_value(text, "size")
            .and_then(|v| v.parse::<usize>().ok())
            .ok_or_else(|| err("no integer \"size\"".into()))?;
        let triple = |key: &str| -> Result<[f32; 3]> {
            let v = json_value(text, key)
                .and_then(|v| v.strip_prefix('['))
                .and_then(|v| v.split(']').next())
                .map(|v| {
                    // As numpy's np.array(meta[key], np.float32): parse as f64, round once.
                    v.split(',')
                        .map(|n| n.trim().parse::<f64>().map(|n| n as f32))
                        .collect::<std::result::Result<Vec<f32>, _>>()
                });
            match v {
                Some(Ok(v)) if v.len() == 3 => Ok([v[0], v[1], v[2]]),
                _ => Err(err(format!("no \"{key}\": [three numbers] array"))),
            }
        };
        let (mean, std) = (triple("mean")?, triple("std")?);
        if let Some(layout) = json_string(text, "layout") {
            if layout != "NCHW" {
                return Err(err(format!("layout {layout:?} is not NCHW")));
            }
        }
        let resize_shorter = match json_string(text, "resize") {
            None => 256,
            Some(rule) => {
                let n = rule
                    .split("shorter side to ")
                    .nth(1)
                    .and_then(|t| t.split(|c: char| !c.is_ascii_digit()).next())
                    .and_then(|n| n.parse().ok());
                match n {
                    Some(n) if rule.to_ascii_lowercase().contains("bilinear") => n,
                    _ => {
                        return Err(err(format!(
                            "unsupported resize rule {rule:?}: expected \"shorter side to N\" \
                             with PIL bilinear"
                        )))
                    }
                }
            }
        };
        Self::new(size, resize_shorter, mean, std).map_err(|e| err(e.to_string()))
    }

    /// The model input (`[3, size, size]`, CHW) for one image file.
    pub fn load(&self, path: &Path) -> Result<Vec<f32>> {
        let bad = |detail: String| io(path, detail);
        let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
        if bytes.starts_with(b"\xff\xd8") && truncated_jpeg(&bytes) {
            // zune-jpeg fills a cut-off scan with gray; PIL refuses it ("image file is
            // truncated"), and so do we.
            return Err(bad(
                "truncated JPEG: no end-of-image marker after its last scan".into(),
            ));
        }
        // The decoder's default limits (512 MiB) refuse absurd dimensions with an error.
        let img = image::ImageReader::new(std::io::Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| bad(e.to_string()))?
            .decode()
            .map_err(|e| bad(format!("not a readable image: {e}")))?
            .to_rgb8();
        if img.width() == 0 || img.height() == 0 {
            return Err(bad("the image has no pixels".into()));
        }
        let (w, h) = (img.width() as usize, img.height() as usize);
        Ok(self.tensor(img.as_raw(), w, h))
    }

    /// The model input for `rgb` (`[h, w, 3]` bytes, `w, h > 0`): resize, crop, normalize.
    pub fn tensor(&self, rgb: &[u8], w: usize, h: usize) -> Vec<f32> {
        let short = self.resize_shorter;
        // Python's round() (ties to even), as preprocess.py and torchvision.
        let scale = short as f64 / w.min(h) as f64;
        let long = |n: usize| short.max((n as f64 * scale).round_ties_even() as usize);
        let (nw, nh) = if w <= h {
            (short, long(h))
        } else {
            (long(w), short)
        };
        let resized = resize_bilinear(rgb, w, h, nw, nh);
        let size = self.size;
        let left = ((nw - size) as f64 / 2.0).round_ties_even() as usize;
        let top = ((nh - size) as f64 / 2.0).round_ties_even() as usize;
        let plane = size * size;
        let mut out = vec![0f32; 3 * plane];
        for y in 0..size {
            for x in 0..size {
                let p = ((y + top) * nw + x + left) * 3;
                for c in 0..3 {
                    // f32 throughout, as numpy: (float32(px) / 255 - mean) / std.
                    let v = resized[p + c] as f32 / 255.0;
                    out[c * plane + y * size + x] = (v - self.mean[c]) / self.std[c];
                }
            }
        }
        out
    }
}

/// The image files of `dir` ([`EXTENSIONS`], any case), sorted by name.
pub fn list(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e.to_string()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && is_image(p))
        .collect();
    files.sort();
    Ok(files)
}

/// Whether `p` has an image extension that [`load_folder`] decodes.
pub fn is_image(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// The model inputs (`[3, size, size]` each) of every image in `dir`, in name order, at most
/// `max` of them (the first ones).
pub fn load_folder(dir: &Path, pre: &Preprocess, max: Option<usize>) -> Result<Vec<Vec<f32>>> {
    load_folder_with(dir, pre, max, &mut |_, _| {})
}

/// [`load_folder`], calling `progress(done, total)` after each image.
pub fn load_folder_with(
    dir: &Path,
    pre: &Preprocess,
    max: Option<usize>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<Vec<f32>>> {
    let mut files = list(dir)?;
    if files.is_empty() {
        return Err(Error::BadCalibration {
            detail: format!("{} holds no images (.jpg, .jpeg or .png)", dir.display()),
        });
    }
    if let Some(n) = max {
        files.truncate(n);
    }
    let total = files.len();
    let mut out = Vec::with_capacity(total);
    for (i, f) in files.iter().enumerate() {
        out.push(pre.load(f)?);
        progress(i + 1, total);
    }
    if out.is_empty() {
        return Err(Error::BadCalibration {
            detail: format!("no images taken from {} (max 0)", dir.display()),
        });
    }
    Ok(out)
}

/// `rgb` (`[h, w, 3]`) resized to `[nh, nw, 3]` exactly as PIL's `Image.resize(.., BILINEAR)`
/// (libImaging/Resample.c, 8 bits per channel): a separable triangle filter whose support
/// grows with the downscale factor (antialiasing), 22-bit fixed-point weights, a horizontal
/// pass rounded to u8, then a vertical one.
pub fn resize_bilinear(rgb: &[u8], w: usize, h: usize, nw: usize, nh: usize) -> Vec<u8> {
    let mut cur = std::borrow::Cow::Borrowed(rgb);
    if nw != w {
        let k = Coeffs::new(w, nw);
        let mut dst = vec![0u8; nw * h * 3];
        for y in 0..h {
            let row = &cur[y * w * 3..(y + 1) * w * 3];
            for xx in 0..nw {
                let (xmin, taps) = k.taps(xx);
                let mut acc = [HALF; 3];
                for (x, &c) in taps.iter().enumerate() {
                    let p = (xmin + x) * 3;
                    for ch in 0..3 {
                        acc[ch] += row[p + ch] as i32 * c;
                    }
                }
                let o = (y * nw + xx) * 3;
                for ch in 0..3 {
                    dst[o + ch] = clip8(acc[ch]);
                }
            }
        }
        cur = dst.into();
    }
    if nh != h {
        let k = Coeffs::new(h, nh);
        let mut dst = vec![0u8; nw * nh * 3];
        for yy in 0..nh {
            let (ymin, taps) = k.taps(yy);
            let out = &mut dst[yy * nw * 3..(yy + 1) * nw * 3];
            for x in 0..nw * 3 {
                let mut acc = HALF;
                for (y, &c) in taps.iter().enumerate() {
                    acc += cur[(ymin + y) * nw * 3 + x] as i32 * c;
                }
                out[x] = clip8(acc);
            }
        }
        cur = dst.into();
    }
    cur.into_owned()
}

/// PIL's PRECISION_BITS (32 - 8 - 2) and the rounding half added before the shift.
const PRECISION_BITS: u32 = 22;
const HALF: i32 = 1 << (PRECISION_BITS - 1);

fn clip8(v: i32) -> u8 {
    (v >> PRECISION_BITS).clamp(0, 255) as u8
}

/// PIL's `precompute_coeffs` + `normalize_coeffs_8bpc` for the bilinear filter: output pixel
/// `i` is `Σ kk[i*ksize + t] · in[bounds[i].0 + t]` for `t < bounds[i].1`.
struct Coeffs {
    ksize: usize,
    bounds: Vec<(usize, usize)>,
    kk: Vec<i32>,
}

impl Coeffs {
    fn new(in_size: usize, out_size: usize) -> Coeffs {
        let scale = in_size as f64 / out_size as f64;
        let filterscale = scale.max(1.0);
        let support = filterscale; // bilinear: support 1.0, scaled
        let ksize = support.ceil() as usize * 2 + 1;
        let ss = 1.0 / filterscale;
        let mut bounds = Vec::with_capacity(out_size);
        let mut kk = vec![0i32; out_size * ksize];
        let mut k = vec![0f64; ksize];
        for xx in 0..out_size {
            let center = (xx as f64 + 0.5) * scale;
            // C's (int) truncates toward zero.
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize - xmin;
            let mut ww = 0.0;
            for x in 0..xmax {
                let t = ((x + xmin) as f64 - center + 0.5).abs() * ss;
                k[x] = if t < 1.0 { 1.0 - t } else { 0.0 };
                ww += k[x];
            }
            for x in 0..xmax {
                let w = if ww != 0.0 { k[x] / ww } else { k[x] };
                let f = w * (1u32 << PRECISION_BITS) as f64;
                kk[xx * ksize + x] = if w < 0.0 {
                    (f - 0.5) as i32
                } else {
                    (f + 0.5) as i32
                };
            }
            bounds.push((xmin, xmax));
        }
        Coeffs { ksize, bounds, kk }
    }

    fn taps(&self, i: usize) -> (usize, &[i32]) {
        let (min, n) = self.bounds[i];
        (min, &self.kk[i * self.ksize..i * self.ksize + n])
    }
}

/// Whether a JPEG lacks an end-of-image marker (FF D9) after its last start-of-scan (FF DA).
/// Entropy-coded data never holds either (an FF there is followed by 00 or a restart marker),
/// and an embedded EXIF thumbnail ends before the main image's scans.
fn truncated_jpeg(bytes: &[u8]) -> bool {
    let last = |m: u8| bytes.windows(2).rposition(|w| w == [0xff, m]);
    match (last(0xda), last(0xd9)) {
        (Some(sos), Some(eoi)) => eoi < sos,
        _ => true,
    }
}

fn io(p: &Path, detail: String) -> Error {
    Error::Io {
        file: p.display().to_string(),
        detail,
    }
}

/// The raw text of `"key": VALUE` in a flat JSON object (up to the next `,` or `}` outside
/// brackets), or None.
fn json_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let start = text.find(&format!("\"{key}\""))? + key.len() + 2;
    let rest = text[start..].trim_start().strip_prefix(':')?.trim_start();
    let mut depth = 0i32;
    let mut in_str = false;
    let mut prev = '\0';
    for (i, c) in rest.char_indices() {
        match c {
            '"' if prev != '\\' => in_str = !in_str,
            '[' | '{' if !in_str => depth += 1,
            ']' | '}' if !in_str && depth > 0 => depth -= 1,
            ',' | '}' if !in_str && depth == 0 => return Some(rest[..i].trim()),
            _ => {}
        }
        prev = c;
    }
    Some(rest.trim())
}

/// `"key": "string"` (no escapes beyond `\"` kept verbatim), or None.
fn json_string<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    json_value(text, key)?.strip_prefix('"')?.strip_suffix('"')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_zoo_json() {
        let json = r#"{"input": "input", "size": 224, "layout": "NCHW",
            "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
            "scale": "x = (R,G,B / 255 - mean) / std, per channel",
            "resize": "decode as RGB; resize shorter side to 256 (PIL bilinear, antialiased)"}"#;
        let p = Preprocess::from_json("m.json", json).unwrap();
        assert_eq!((p.size, p.resize_shorter), (224, 256));
        assert_eq!(p.mean, [0.485, 0.456, 0.406]);
        assert_eq!(p.std, [0.229, 0.224, 0.225]);
        let no_std = json.replace("\"std\"", "\"sd\"");
        assert!(matches!(
            Preprocess::from_json("m.json", &no_std),
            Err(Error::Io { file, .. }) if file == "m.json"
        ));
        let nearest = json.replace("PIL bilinear", "nearest");
        assert!(Preprocess::from_json("m.json", &nearest).is_err());
    }

    #[test]
    fn resize_keeps_constant_images_and_shapes() {
        let rgb: Vec<u8> = [10u8, 200, 77].repeat(37 * 53);
        let out = resize_bilinear(&rgb, 37, 53, 11, 300);
        assert_eq!(out.len(), 11 * 300 * 3);
        assert!(out.chunks(3).all(|p| p == [10, 200, 77]));
        let p = Preprocess::new(8, 10, [0.0; 3], [1.0; 3]).unwrap();
        let t = p.tensor(&rgb, 37, 53);
        assert_eq!(t.len(), 3 * 64);
        assert_eq!(t[0], 10.0 / 255.0);
        assert_eq!(t[64], 200.0 / 255.0);
    }
}
