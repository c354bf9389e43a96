//! Pruning and export on the real zoo models (reads .cache/zoo; `make zoo` builds it). Run with
//! `cargo build --release --features cli && cargo test --release --features zoo --test models prune_zoo::`.
//! The CLI test runs that prebuilt binary (or `$ZEROSKIP_BIN`) rather than having cargo build
//! it here: see the `cli` feature in Cargo.toml. Native only.
#![cfg(not(target_arch = "wasm32"))]

use crate::common;
use common::zoo;
use std::path::{Path, PathBuf};
use std::process::Command;
use zeroskip::export;
use zeroskip::graph::{reference, Graph, Linear, Op};
use zeroskip::import::onnx;
use zeroskip::prune::npy;

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("zeroskip-prune-zoo-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// The CLI binary built by `cargo build --release --features cli`.
fn cli_binary() -> PathBuf {
    let p = std::env::var_os("ZEROSKIP_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/release/zeroskip"),
        PathBuf::from,
    );
    assert!(
        p.exists(),
        "{}: build the CLI first with `cargo build --release --features cli`",
        p.display()
    );
    p
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

/// Every zoo model, exported and re-imported, computes exactly what it did.
#[test]
fn exported_zoo_models_reimport_identically() {
    for model in zoo::MODELS {
        let g = onnx::load(model, &zoo::read(&format!("{model}.onnx"))).unwrap();
        let back = onnx::load("exported", &export::onnx::write(&g).unwrap()).unwrap();
        let (_, inputs) = zoo::npy_f32(&format!("verify/{model}_inputs.npy"));
        let x = &inputs[..g.input_shape().len()];
        let d = max_diff(
            &reference::run(&g, x).unwrap(),
            &reference::run(&back, x).unwrap(),
        );
        println!("{model}: export → import max |Δlogit| = {d:.1e}");
        // measured 0 on all three models
        assert_eq!(d, 0.0, "{model}");
    }
}

/// The CLI prunes MobileNetV2 (SparseGPT, 4x1, 50%), the file it writes loads in onnxruntime
/// and gives the logits our interpreter gives, and `eval` reports on it.
#[test]
fn cli_pruned_model_runs_in_onnxruntime() {
    let dir = zoo::dir();
    let model = dir.join("mobilenet_v2.onnx");
    let inputs = dir.join("verify/mobilenet_v2_inputs.npy");
    let out = scratch("v2_sparsegpt_4x1.onnx");
    let bin = cli_binary();
    let args = [
        "--method",
        "sparsegpt",
        "--pattern",
        "4x1",
        "--sparsity",
        "0.5",
        "--calib-count",
        "2",
    ];
    let st = Command::new(&bin)
        .arg("prune")
        .arg(&model)
        .arg("--calib")
        .arg(&inputs)
        .args(args)
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success(), "zeroskip prune failed");

    let g = onnx::load("pruned", &std::fs::read(&out).unwrap()).unwrap();
    check_4x1_half_sparse(&g);

    // onnxruntime on the first image, logits saved as .npy.
    let (_, x) = zoo::npy_f32("verify/mobilenet_v2_inputs.npy");
    let x = &x[..g.input_shape().len()];
    let x_npy = scratch("x.npy");
    std::fs::write(&x_npy, npy::write_f32(&[1, 3, 224, 224], x)).unwrap();
    let y_npy = scratch("y.npy");
    let script = "import sys, numpy as np, onnxruntime as ort\n\
        s = ort.InferenceSession(sys.argv[1], providers=['CPUExecutionProvider'])\n\
        x = np.load(sys.argv[2])\n\
        np.save(sys.argv[3], s.run(None, {s.get_inputs()[0].name: x})[0].astype(np.float32))\n";
    let python = dir.join("venv/bin/python");
    let st = Command::new(&python)
        .args(["-c", script])
        .args([&out, &x_npy, &y_npy])
        .status()
        .unwrap_or_else(|e| panic!("{}: {e}; build the zoo with `make zoo`", python.display()));
    assert!(st.success(), "onnxruntime could not run the exported model");
    let (_, ort) = npy::read_f32("y.npy", &std::fs::read(&y_npy).unwrap()).unwrap();
    let ours = reference::run(&g, x).unwrap();
    let d = max_diff(&ours, &ort);
    println!("pruned MobileNetV2: onnxruntime vs reference max |Δlogit| = {d:.1e}");
    // measured 1.3e-5
    assert!(d <= 6e-5, "{d}");

    let eval = Command::new(&bin)
        .arg("eval")
        .arg(&out)
        .arg("--images")
        .arg(&inputs)
        .args(["--range", "0..2", "--json", "--labels"])
        .arg(dir.join("verify.json"))
        .arg("--dense")
        .arg(dir.join("verify/mobilenet_v2_logits.npy"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&eval.stdout);
    assert!(
        eval.status.success() && text.contains("\"top1_correct\"") && text.contains("\"mean_kl\""),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(Path::new(&out).parent().unwrap());
}

/// Every 1x1 conv and FC layer is half zeros in shared 4-row masks.
fn check_4x1_half_sparse(g: &Graph) {
    let mut layers = 0;
    for n in &g.nodes {
        let (w, c_out, c_in) = match &n.op {
            Op::Conv(c) if c.is_pointwise() => (&c.weight, c.c_out, c.c_in),
            Op::Linear(Linear {
                weight,
                c_out,
                c_in,
                ..
            }) => (weight, *c_out, *c_in),
            _ => continue,
        };
        layers += 1;
        let zeros = w.iter().filter(|&&v| v == 0.0).count();
        assert!(
            zeros * 2 >= c_out * c_in,
            "{}: {zeros} zeros of {}",
            n.name,
            c_out * c_in
        );
        for o in 0..c_out {
            let lead = o - o % 4;
            for i in 0..c_in {
                assert_eq!(
                    w[o * c_in + i] == 0.0,
                    w[lead * c_in + i] == 0.0,
                    "{}: ({o}, {i})",
                    n.name
                );
            }
        }
    }
    assert_eq!(layers, 35, "MobileNetV2 has 34 pointwise convs and one FC");
}

/// `zeroskip inspect` reports the plan's per-layer choices: every 1x1/FC layer of the 90%
/// variant on sparse kernels, none of the dense model's.
#[test]
fn cli_inspect_reports_the_plan() {
    let run = |model: &str| {
        let out = Command::new(cli_binary())
            .arg("inspect")
            .arg(zoo::dir().join(model))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let sparse = run("mobilenet_v2_s90.onnx");
    assert!(
        sparse.contains("1x1/FC on sparse kernels: 35 of 35"),
        "{sparse}"
    );
    assert!(sparse.contains("spmm_f32_") && sparse.contains("dwconv_f32_"));
    let dense = run("mobilenet_v2.onnx");
    assert!(
        dense.contains("1x1/FC on sparse kernels: 0 of 35"),
        "{dense}"
    );
}

/// Decoding the zoo's photos with each model's json reproduces onnxruntime's inputs, made by
/// tools/zoo/preprocess.py with PIL. Resize, crop and normalization are PIL's and numpy's bit
/// for bit (the same photos decoded by PIL and saved as PNG give max |Δ| = 0); what remains is
/// the JPEG decoder: zune-jpeg here, libjpeg-turbo in PIL, whose IDCT and YCbCr→RGB rounding
/// differ by a step or two of 8 bits on some pixels. So: at most 3 steps of 8 bits anywhere
/// (3/255/std in normalized units: 0.024 for std 0.5, 0.052 for std 0.229), a mean under a
/// quarter step, and most values identical.
#[test]
fn image_folder_matches_the_zoo_inputs() {
    use zeroskip::prune::images::{load_folder, Preprocess};
    let dir = zoo::dir();
    for model in zoo::MODELS {
        let pre = Preprocess::read(&dir.join(format!("{model}.json"))).unwrap();
        let ours = load_folder(&dir.join("images"), &pre, None).unwrap();
        let (shape, want) = zoo::npy_f32(&format!("verify/{model}_inputs.npy"));
        assert_eq!(ours.len(), shape[0], "{model}");
        let plane = pre.size * pre.size;
        let (mut max, mut max_steps, mut sum, mut steps, mut exact) = (0f32, 0f32, 0f64, 0f64, 0);
        for (i, (a, b)) in ours.concat().iter().zip(&want).enumerate() {
            let d = (a - b).abs();
            max = max.max(d);
            let step = d * pre.std[i / plane % 3] * 255.0;
            max_steps = max_steps.max(step);
            sum += d as f64;
            steps += step as f64;
            exact += usize::from(d == 0.0);
        }
        let (mean, mean_steps) = (sum / want.len() as f64, steps / want.len() as f64);
        println!(
            "{model}: images vs onnxruntime inputs max |Δ| = {max:.4} ({max_steps:.2} steps of \
             8 bits), mean |Δ| = {mean:.5} ({mean_steps:.3} steps), {:.1}% identical",
            100.0 * exact as f64 / want.len() as f64
        );
        assert!(max_steps <= 3.01, "{model}: {max_steps} steps");
        assert!(mean_steps <= 0.25, "{model}: mean {mean_steps} steps");
        assert!(exact * 10 >= want.len() * 7, "{model}: {exact} identical");
    }
}

/// A corrupt photo fails with a typed error naming it; a folder without photos with
/// BadCalibration; other files in the folder are skipped.
#[test]
fn image_folder_errors_are_typed() {
    use zeroskip::error::Error;
    use zeroskip::prune::images::{load_folder, Preprocess};
    let pre = Preprocess::read(&zoo::dir().join("mobilenet_v2.json")).unwrap();
    let dir = scratch("corrupt");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "not a photo").unwrap();
    assert!(matches!(
        load_folder(&dir, &pre, None),
        Err(Error::BadCalibration { .. })
    ));
    let good = zoo::read("images/imagenet_00_243.jpg");
    std::fs::write(dir.join("a.jpg"), &good).unwrap();
    // A JPEG cut off in its scan, then a PNG that is not one.
    std::fs::write(dir.join("b.JPG"), &good[..good.len() / 50]).unwrap();
    assert_eq!(load_folder(&dir, &pre, Some(1)).unwrap().len(), 1);
    match load_folder(&dir, &pre, None) {
        Err(Error::Io { file, detail }) => {
            assert!(file.ends_with("b.JPG"), "{file}: {detail}");
            println!("truncated JPEG: {file}: {detail}");
        }
        other => panic!("expected Error::Io naming b.JPG, got {other:?}"),
    }
    std::fs::remove_file(dir.join("b.JPG")).unwrap();
    std::fs::write(dir.join("c.png"), b"\x89PNG\r\n\x1a\n and then garbage").unwrap();
    match load_folder(&dir, &pre, None) {
        Err(Error::Io { file, detail }) => {
            assert!(file.ends_with("c.png"), "{file}: {detail}");
            println!("corrupt PNG: {file}: {detail}");
        }
        other => panic!("expected Error::Io naming c.png, got {other:?}"),
    }
    // A PNG of the same pixels gives the same input as the JPEG.
    image::load_from_memory(&good)
        .unwrap()
        .save(dir.join("c.png"))
        .unwrap();
    let both = load_folder(&dir, &pre, None).unwrap();
    assert_eq!(both.len(), 2);
    assert!(both[0] == both[1], "PNG and JPEG inputs differ");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `zeroskip prune --calib DIR` decodes a folder of photos (preprocessing from the json beside
/// the model), prunes with it end to end, and `eval --images DIR` scores the photos; without a
/// json the CLI asks for `--preprocess`.
#[test]
fn cli_prunes_and_evaluates_on_a_folder_of_photos() {
    let dir = zoo::dir();
    let bin = cli_binary();
    let out = scratch("v2_wanda_photos.onnx");
    let prune = Command::new(&bin)
        .arg("prune")
        .arg(dir.join("mobilenet_v2.onnx"))
        .arg("--calib")
        .arg(dir.join("images"))
        .args([
            "--method",
            "wanda",
            "--sparsity",
            "0.5",
            "--calib-count",
            "2",
        ])
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&prune.stdout);
    assert!(
        prune.status.success() && text.contains("calibrated on 2 inputs"),
        "{text}{}",
        String::from_utf8_lossy(&prune.stderr)
    );
    let g = onnx::load("pruned", &std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(g.input_shape().len(), 3 * 224 * 224);

    let eval = Command::new(&bin)
        .arg("eval")
        .arg(&out)
        .arg("--images")
        .arg(dir.join("images"))
        .arg("--preprocess")
        .arg(dir.join("mobilenet_v2.json"))
        .args(["--range", "0..2", "--json", "--labels"])
        .arg(dir.join("verify.json"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&eval.stdout);
    assert!(
        eval.status.success() && text.contains("\"top1_correct\""),
        "{text}{}",
        String::from_utf8_lossy(&eval.stderr)
    );

    // `out` has no .json beside it: a folder of photos needs --preprocess.
    let no_json = Command::new(&bin)
        .arg("prune")
        .arg(&out)
        .arg("--calib")
        .arg(dir.join("images"))
        .args(["--sparsity", "0.5", "-o"])
        .arg(scratch("unused.onnx"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&no_json.stderr);
    assert!(
        !no_json.status.success() && err.contains("--preprocess"),
        "{err}"
    );
    let _ = std::fs::remove_file(&out);
}

/// `zeroskip pack` writes a .zsk of MobileNetV2 at 85% within 35% of the dense ONNX file, and
/// `inspect` reads it back with every 1x1/FC layer on its stored sparse stream.
#[test]
fn cli_pack_writes_a_small_zsk() {
    let out = scratch("mobilenet_v2_s85.zsk");
    let st = Command::new(cli_binary())
        .arg("pack")
        .arg(zoo::dir().join("mobilenet_v2_s85.onnx"))
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success());
    let (zsk, dense) = (
        std::fs::metadata(&out).unwrap().len(),
        std::fs::metadata(zoo::dir().join("mobilenet_v2.onnx"))
            .unwrap()
            .len(),
    );
    assert!(zsk * 100 <= dense * 35, "{zsk} bytes vs dense {dense}");
    let inspect = Command::new(cli_binary())
        .arg("inspect")
        .arg(&out)
        .output()
        .unwrap();
    let text = String::from_utf8(inspect.stdout).unwrap();
    assert!(
        text.contains("1x1/FC on sparse kernels: 35 of 35"),
        "{text}"
    );
}
