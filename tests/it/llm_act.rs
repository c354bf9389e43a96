//! Activation sparsity (`zeroskip::llm::act`, `zeroskip::prune::llm::act`) on a tiny random
//! llama: zero thresholds give the dense logits; decode's skipping path (input-channel-major
//! kernels, the gate method's W_up row runs) computes what prefill's mask-then-multiply
//! computes; calibration meets its target; the `.zsk` section round-trips, and every corrupt
//! section is a typed error naming its tensor. Natively and as wasm32 under Node (the SIMD
//! kernels of `cm32i8`/`cm32i4` run there).

use zeroskip::error::Error;
use zeroskip::import::gguf::{GgmlType, Gguf};
use zeroskip::kernels::llm::WeightType;
use zeroskip::llm::act::{self, ActMethod, ActSparsity};
use zeroskip::llm::llama::{Llama, Site, Tap};
use zeroskip::llm::synth::{llama_gguf, llama_tensors, tiny_config, GgufWriter};
use zeroskip::llm::LlamaConfig;
#[cfg(not(target_arch = "wasm32"))]
use zeroskip::prune::llm::act::{ActAllocation, ActCalibration};
use zeroskip::sparse::llm::{SparseFormat, SparseMatrix};
use zeroskip::zsk;

pub(crate) const LINEARS: [&str; 7] = [
    "attn_q",
    "attn_k",
    "attn_v",
    "attn_output",
    "ffn_gate",
    "ffn_up",
    "ffn_down",
];

/// 2 layers, width 64 (two 32-row tiles), 4 heads / 2 KV heads, FFN 128, vocab 48.
pub(crate) fn tiny() -> (LlamaConfig, Vec<u8>) {
    let cfg = tiny_config(2, 64, 4, 2, 48);
    let bytes = llama_gguf(&cfg, llama_tensors(&cfg, WeightType::Q8_0, 11));
    (cfg, bytes)
}

/// The tiny model with the matrices of `kinds` packed as `format` (others as they are), and
/// the same weights as a dense F32 GGUF (the packed values decoded).
pub(crate) fn packed(
    format: SparseFormat,
    kinds: &[&str],
    act: Option<&ActSparsity>,
) -> (Vec<u8>, Vec<u8>) {
    zeroskip::llm::synth::sparse_zsk(&tiny().1, format, kinds, act).unwrap()
}

pub(crate) const PROMPT: [u32; 12] = [1, 5, 9, 2, 33, 7, 40, 11, 3, 3, 17, 29];

/// Greedy-free logits of decoding `PROMPT` token by token.
fn decode_all(m: &Llama) -> Vec<Vec<f32>> {
    let mut s = m.session(32).unwrap();
    PROMPT
        .iter()
        .map(|&t| m.decode(&mut s, t).unwrap().to_vec())
        .collect()
}

/// Logits after every token of `PROMPT` through batched prefill.
fn prefill_all(m: &Llama) -> Vec<Vec<f32>> {
    let mut s = m.session(32).unwrap();
    let mut out = Vec::new();
    m.prefill_each(&mut s, &PROMPT, 0, |_, l| {
        out.push(l.to_vec());
        Ok(())
    })
    .unwrap();
    out
}

/// max |a − b| over all logits, and the largest |b|.
fn max_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> (f32, f32) {
    let mut d = 0.0f32;
    let mut scale = 0.0f32;
    for (x, y) in a.iter().zip(b) {
        for (&p, &q) in x.iter().zip(y) {
            d = d.max((p - q).abs());
            scale = scale.max(q.abs());
        }
    }
    (d, scale)
}

/// Thresholds calibrated on the tiny model itself (other tokens than `PROMPT`), uniform at
/// `target`: natively by the library's calibration; in wasm32 (which has no pruning module)
/// by [`Quantiles`], the plain quantile of each site's |x| (or |silu(gate)|).
pub(crate) fn calibrated(method: ActMethod, target: f32) -> ActSparsity {
    let (_, dense) = tiny();
    let m = Llama::load("tiny.gguf", dense).unwrap();
    let tokens: Vec<u32> = (0..160).map(|i| (i * 7 + 3) % 48).collect();
    #[cfg(not(target_arch = "wasm32"))]
    {
        let c = ActCalibration::collect(&m, method, &tokens, 32, |_| {}).unwrap();
        c.allocate(target, ActAllocation::Uniform).unwrap()
    }
    #[cfg(target_arch = "wasm32")]
    {
        assert_ne!(
            method,
            ActMethod::Wina,
            "WINA's scales come from the calibration module"
        );
        let mut q = Quantiles {
            method,
            seen: vec![Vec::new(); 8],
            gate: Vec::new(),
        };
        for seq in tokens.chunks(32) {
            let mut s = m.session(32).unwrap();
            m.prefill_tapped(&mut s, seq, &mut q).unwrap();
        }
        let mut a = zero_act(2, method);
        for (i, v) in q.seen.iter_mut().enumerate() {
            if v.is_empty() {
                continue;
            }
            v.sort_by(f32::total_cmp);
            let k = (target * v.len() as f32) as usize;
            a.thresholds[i / 4][i % 4] = v[k];
            a.calibrated[i / 4][i % 4] = target;
        }
        a.target = target;
        a
    }
}

/// Records |x| per (layer, site) (gate method: |silu(gate)| at the FFN channels).
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Quantiles {
    method: ActMethod,
    seen: Vec<Vec<f32>>,
    gate: Vec<f32>,
}

impl Tap for Quantiles {
    fn see(&mut self, layer: usize, site: Site, x: &[f32]) {
        let i = layer * 4 + site.index();
        match self.method {
            ActMethod::Gate if site == Site::FfnMid => self.seen[i].extend(&self.gate),
            ActMethod::Gate => {}
            _ => self.seen[i].extend(x.iter().map(|v| v.abs())),
        }
    }

    fn see_gate(&mut self, _layer: usize, silu_gate: &[f32]) {
        self.gate = silu_gate.iter().map(|v| v.abs()).collect();
    }
}

fn zero_act(n_layers: usize, method: ActMethod) -> ActSparsity {
    ActSparsity {
        method,
        target: 0.0,
        thresholds: vec![[0.0; 4]; n_layers],
        calibrated: vec![[0.0; 4]; n_layers],
        scales: Vec::new(),
    }
}

tests! {
    fn untied_cm32_lm_head_runs_like_its_values() {
        // A tied model gains an `output.weight` in cm32i8 (the CLI's --lm-head): decode and
        // prefill use it, the embedding lookup keeps the original blocks.
        let (_, dense) = tiny();
        let g = Gguf::parse("tiny.gguf", &dense).unwrap();
        assert!(g.tensor("output.weight").is_err(), "the tiny model's head is tied");
        let e = g.tensor("token_embd.weight").unwrap();
        let (rows, cols) = (e.info.rows(), e.info.row_len());
        let head = SparseMatrix::pack(
            zsk::llm::LM_HEAD,
            SparseFormat::Col { bits: 8 },
            &e.dequantize().unwrap(),
            rows,
            cols,
        )
        .unwrap();
        let decoded: Vec<u8> = head.decode().iter().flat_map(|v| v.to_le_bytes()).collect();
        let with_head = zsk::llm::write(&g, &[head], &[]).unwrap();
        let mut reference = GgufWriter::new();
        for (k, v) in g.metadata() {
            reference.value(k, v);
        }
        for info in g.tensors() {
            let t = g.tensor(&info.name).unwrap();
            reference.raw_tensor(&info.name, &info.dims, info.ty, t.data.to_vec());
        }
        reference.raw_tensor("output.weight", &[cols, rows], GgmlType::F32, decoded);
        let a = Llama::load("head.zsk", with_head).unwrap();
        let b = Llama::load("head_ref.gguf", reference.finish()).unwrap();
        assert_eq!(a.weights.lm_head_kernel().0, "cm32i8");
        let (d, scale) = max_diff(&decode_all(&a), &decode_all(&b));
        // measured 1.1e-5 at logits of ≈ 50 (decode; prefill 1.1e-5, relaxed 1.5e-5)
        assert!(d <= 5e-5, "decode: {d} (scale {scale})");
        let (d, scale) = max_diff(&prefill_all(&a), &prefill_all(&b));
        assert!(d <= 5e-5, "prefill: {d} (scale {scale})");
        // any other new tensor name is refused
        let mut other = SparseMatrix::pack(
            "blk.9.attn_q.weight",
            SparseFormat::Col { bits: 8 },
            &[0.5; 64],
            8,
            8,
        )
        .unwrap();
        assert!(zsk::llm::write(&g, std::slice::from_ref(&other), &[]).is_err());
        other.name = "output.weight".into();
        assert!(zsk::llm::write(&g, &[other], &[]).is_ok());
    }

    fn zero_thresholds_give_the_dense_logits() {
        // The input-sparse path at activation sparsity 0 against the dense kernels on the same
        // (packed, decoded) weights: equal up to f32 summation order.
        for f in ["cm32i8", "cm32i4"] {
            let format = SparseFormat::parse(f).unwrap();
            let zero = zero_act(2, ActMethod::Teal);
            let (zsk_bytes, reference) = packed(format, &LINEARS, Some(&zero));
            let sparse = Llama::load("tiny.zsk", zsk_bytes).unwrap();
            assert_eq!(sparse.act(), Some(&zero), "{f}: the section round-trips");
            let dense = Llama::load("tiny_ref.gguf", reference).unwrap();
            let (d, scale) = max_diff(&decode_all(&sparse), &decode_all(&dense));
            // measured 5.7e-6 natively, 7.6e-6 as wasm32 (SIMD128, relaxed), at logits of ≈ 50
            assert!(d <= 1e-5, "{f}: logits differ by {d} (scale {scale})");
        }
        // A dense GGUF model: thresholds of 0 change nothing at all.
        let (_, dense) = tiny();
        let plain = Llama::load("tiny.gguf", dense.clone()).unwrap();
        let mut with = Llama::load("tiny.gguf", dense).unwrap();
        with.set_act(Some(zero_act(2, ActMethod::Teal))).unwrap();
        assert_eq!(decode_all(&plain), decode_all(&with));
        with.set_act(Some(zero_act(2, ActMethod::Gate))).unwrap();
        assert_eq!(decode_all(&plain), decode_all(&with));
    }

    fn decode_skips_what_prefill_masks() {
        // Decode zeroes small inputs and skips their weight columns (and, for the gate
        // method, computes W_up only on the kept rows); prefill with the thresholds on masks
        // the same entries and multiplies every weight. Same logits up to summation order.
        let mut cases = vec![
            (ActMethod::Teal, &LINEARS[..]),
            (ActMethod::Gate, &["ffn_down"][..]),
        ];
        if cfg!(not(target_arch = "wasm32")) {
            cases.push((ActMethod::Wina, &LINEARS[..]));
        }
        for (method, kinds) in cases {
            let act = calibrated(method, 0.5);
            for f in ["cm32i8", "cm32i4"] {
                let format = SparseFormat::parse(f).unwrap();
                let (zsk_bytes, _) = packed(format, kinds, Some(&act));
                let mut m = Llama::load("tiny.zsk", zsk_bytes).unwrap();
                let dec = decode_all(&m);
                m.set_act_prefill(true);
                let pre = prefill_all(&m);
                let (d, scale) = max_diff(&dec, &pre);
                // measured ≤ 7.6e-6 at logits of ≈ 50 on every build
                assert!(d <= 3e-5, "{method:?} {f}: {d} (scale {scale})");
                // and the thresholds did something: the logits moved off the dense ones
                m.set_act(None).unwrap();
                let (moved, _) = max_diff(&decode_all(&m), &dec);
                // measured: 1.2 to 5.0
                assert!(moved > 0.1, "{method:?} {f}: thresholds changed nothing ({moved})");
            }
        }
    }

    fn statistics_count_zero_and_skipped_inputs() {
        let act = calibrated(ActMethod::Teal, 0.5);
        // every linear input-channel-major: every zero is skipped
        let (zsk_bytes, _) = packed(SparseFormat::Col { bits: 8 }, &LINEARS, Some(&act));
        let m = Llama::load("tiny.zsk", zsk_bytes).unwrap();
        let mut s = m.session(32).unwrap();
        for &t in &PROMPT {
            m.decode(&mut s, t).unwrap();
            let last = s.act_last();
            assert_eq!(last.tokens, 1);
            assert_eq!(last.skipped_macs, last.zero_macs);
        }
        let total = s.act_total();
        assert_eq!(total.tokens, PROMPT.len() as u64);
        let z = total.zero_fraction();
        // calibrated on other tokens of the same model: near the 50% target
        // calibrated for 0.5: measured 0.504 natively, 0.4997 as wasm32
        assert!((0.48..0.52).contains(&z), "zero fraction {z}");
        // row-major matrices multiply by the zeros: nothing is skipped
        let (_, dense) = tiny();
        let mut plain = Llama::load("tiny.gguf", dense).unwrap();
        plain.set_act(Some(act)).unwrap();
        let mut s = plain.session(32).unwrap();
        for &t in &PROMPT {
            plain.decode(&mut s, t).unwrap();
        }
        assert_eq!(s.act_total().skipped_macs, 0);
        assert!(s.act_total().zero_fraction() > 0.3);
        // prefill counts nothing unless asked to apply the thresholds
        let mut s = plain.session(32).unwrap();
        plain.prefill(&mut s, &PROMPT).unwrap();
        assert_eq!(s.act_total().tokens, 0);
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn calibration_meets_its_target() {
        for method in [ActMethod::Teal, ActMethod::Wina, ActMethod::Gate] {
            let (_, dense) = tiny();
            let m = Llama::load("tiny.gguf", dense).unwrap();
            let tokens: Vec<u32> = (0..160).map(|i| (i * 5 + 1) % 48).collect();
            let c = ActCalibration::collect(&m, method, &tokens, 40, |_| {}).unwrap();
            assert_eq!(c.tokens, 160);
            let mut last = [0.0f32; 4];
            for target in [0.25f32, 0.4, 0.6] {
                for alloc in [ActAllocation::Uniform, ActAllocation::Greedy] {
                    let a = c.allocate(target, alloc).unwrap();
                    let met = c.met(&a);
                    // bins are 1/32 octave wide: a threshold lands a bin above the quantile;
                    // measured: met − target from +0.002 to +0.012 (gate greedy 0.6)
                    assert!(
                        met >= target as f64 - 0.01 && met <= target as f64 + 0.06,
                        "{method:?} {alloc:?} {target}: met {met}"
                    );
                    for (l, t) in a.thresholds.iter().enumerate() {
                        for (site, &ts) in t.iter().enumerate() {
                            let on = method != ActMethod::Gate || site == 3;
                            if on && alloc == ActAllocation::Uniform {
                                assert!(ts > 0.0, "{method:?} layer {l} site {site} off");
                            }
                            if !on {
                                assert_eq!(ts, 0.0, "{method:?}: site {site} thresholded");
                            }
                        }
                    }
                    if alloc == ActAllocation::Uniform {
                        // thresholds grow with the target
                        let t0 = a.thresholds[0];
                        for (site, (&now, &before)) in t0.iter().zip(&last).enumerate() {
                            assert!(now >= before, "{method:?} site {site}");
                        }
                        last = t0;
                    }
                }
            }
            assert!(c.allocate(0.95, ActAllocation::Greedy).is_err());
            assert!(c.allocate(-0.1, ActAllocation::Uniform).is_err());
        }
        // a model that already has thresholds is not calibrated again
        let (zsk_bytes, _) = packed(
            SparseFormat::Col { bits: 8 },
            &LINEARS,
            Some(&zero_act(2, ActMethod::Teal)),
        );
        let m = Llama::load("tiny.zsk", zsk_bytes).unwrap();
        let e = ActCalibration::collect(&m, ActMethod::Teal, &PROMPT, 8, |_| {}).unwrap_err();
        assert!(matches!(e, Error::BadCalibration { .. }), "{e}");
    }

    fn corrupt_act_section_is_a_typed_error() {
        let act = calibrated(ActMethod::Teal, 0.4);
        let (good, _) = packed(SparseFormat::Col { bits: 8 }, &LINEARS, Some(&act));
        let g = Gguf::parse("x", &good[zsk::llm::HEADER..]).unwrap();
        let info = g.tensor(act::TENSOR_THRESHOLDS).unwrap().info.clone();
        let at = zsk::llm::HEADER + info.start;
        let cal_at = zsk::llm::HEADER + g.tensor(act::TENSOR_CALIBRATED).unwrap().info.start;
        drop(g);
        let put = |b: &mut Vec<u8>, off: usize, v: f32| {
            b[off..off + 4].copy_from_slice(&v.to_le_bytes())
        };
        let expect = |bytes: Vec<u8>, tensor: &str, what: &str| {
            let e = Llama::load("bad.zsk", bytes).unwrap_err();
            assert!(matches!(e, Error::BadTensor { .. }), "{what}: {e}");
            let msg = e.to_string();
            assert!(msg.contains(tensor) && msg.contains("bad.zsk"), "{what}: {msg}");
        };
        for (v, what) in [
            (f32::NAN, "NaN"),
            (f32::INFINITY, "infinite"),
            (-0.5, "negative"),
            (2.0 * act::MAX_THRESHOLD, "too large"),
        ] {
            let mut b = good.clone();
            put(&mut b, at + 4 * 5, v);
            expect(b, act::TENSOR_THRESHOLDS, what);
        }
        let mut b = good.clone();
        put(&mut b, cal_at + 4 * 2, 1.5);
        expect(b, act::TENSOR_CALIBRATED, "a fraction above 1");

        // A wrong count: thresholds for 3 layers in a 2-layer model.
        let mut three = act.clone();
        three.thresholds.push([0.1; 4]);
        three.calibrated.push([0.1; 4]);
        let (b, _) = packed(SparseFormat::Col { bits: 8 }, &LINEARS, Some(&three));
        expect(b, act::TENSOR_THRESHOLDS, "3 layers");

        // The gate method thresholds only the FFN channels.
        let mut gate = act.clone();
        gate.method = ActMethod::Gate;
        let (b, _) = packed(SparseFormat::Col { bits: 8 }, &LINEARS, Some(&gate));
        expect(b, act::TENSOR_THRESHOLDS, "gate with attention thresholds");

        // Another section version, an unknown method, a target out of range.
        for (key, what) in [
            (act::KEY_VERSION, "version"),
            (act::KEY_METHOD, "method"),
            (act::KEY_TARGET, "target"),
        ] {
            let (_, dense) = tiny();
            let g = Gguf::parse("tiny.gguf", &dense).unwrap();
            let mut meta = Vec::new();
            meta.push(match key {
                act::KEY_VERSION => (key.to_string(), zeroskip::import::gguf::Value::U32(2)),
                act::KEY_METHOD => (key.into(), zeroskip::import::gguf::Value::String("cats".into())),
                _ => (key.into(), zeroskip::import::gguf::Value::F32(1.5)),
            });
            // the section's own keys come after `meta`; write them in `meta` instead, with
            // one of them broken
            let (mut section, tensors) = act.to_gguf();
            section.retain(|(k, _)| k != key);
            meta.extend(section);
            let mut w = GgufWriter::new();
            for (k, v) in g.metadata().iter().chain(&meta) {
                w.value(k, v);
            }
            for (name, dims, data) in tensors {
                w.raw_tensor(&name, &dims, GgmlType::F32, data);
            }
            for info in g.tensors() {
                w.raw_tensor(&info.name, &info.dims, info.ty, g.tensor(&info.name).unwrap().data.to_vec());
            }
            expect(w.finish(), key, what);
        }

        // WINA's per-channel weights: a NaN, a zero, a wrong length; none for another method.
        #[cfg(not(target_arch = "wasm32"))]
        corrupt_wina_scales(&expect);

        // Every byte of both tensors flipped in turn: a typed error or a model that runs.
        for off in (at..at + info.n_bytes).chain(cal_at..cal_at + 32) {
            let mut b = good.clone();
            b[off] ^= 0xa5;
            match Llama::load("bad.zsk", b) {
                Err(e) => assert!(matches!(e, Error::BadTensor { .. }), "{e}"),
                Ok(m) => {
                    let mut s = m.session(4).unwrap();
                    m.decode(&mut s, 3).unwrap();
                }
            }
        }
    }
}

/// WINA's `zeroskip.act.scales`: bad values and lengths are refused, naming the tensor.
#[cfg(not(target_arch = "wasm32"))]
fn corrupt_wina_scales(expect: &dyn Fn(Vec<u8>, &str, &str)) {
    let put =
        |b: &mut Vec<u8>, off: usize, v: f32| b[off..off + 4].copy_from_slice(&v.to_le_bytes());
    let wina = calibrated(ActMethod::Wina, 0.4);
    assert_eq!(wina.scales.len(), 8);
    let (good_w, _) = packed(SparseFormat::Col { bits: 8 }, &LINEARS, Some(&wina));
    let loaded = Llama::load("w.zsk", good_w.clone()).unwrap();
    assert_eq!(loaded.act(), Some(&wina), "WINA's section round-trips");
    let g = Gguf::parse("x", &good_w[zsk::llm::HEADER..]).unwrap();
    let sc_at = zsk::llm::HEADER + g.tensor(act::TENSOR_SCALES).unwrap().info.start;
    drop(g);
    for (v, what) in [
        (f32::NAN, "NaN scale"),
        (0.0, "zero scale"),
        (-1.0, "negative scale"),
    ] {
        let mut b = good_w.clone();
        put(&mut b, sc_at + 4 * 7, v);
        expect(b, act::TENSOR_SCALES, what);
    }
    let mut short = wina.clone();
    short.scales[3].pop();
    let (b, _) = packed(SparseFormat::Col { bits: 8 }, &LINEARS, Some(&short));
    expect(b, act::TENSOR_SCALES, "one weight short");
    let mut teal_with = wina.clone();
    teal_with.method = ActMethod::Teal;
    let (b, _) = packed(SparseFormat::Col { bits: 8 }, &LINEARS, Some(&teal_with));
    expect(b, act::TENSOR_SCALES, "scales for TEAL");
}
