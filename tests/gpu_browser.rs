//! The WebGPU path in a real browser: headless Chromium with `--enable-unsafe-webgpu`, whose
//! adapter is SwiftShader (a CPU emulation of a GPU), driven by wasm-bindgen-test through
//! chromedriver (`make test-gpu-browser`; webdriver.json holds Chromium's flags).
//!
//! - The shader and op cases of the native suite (tests/common/gpu.rs, shared with
//!   tests/gpu_native.rs), against the naive interpreter / the CPU `Session` with the same
//!   tolerances: the pointwise SpMM and GEMM (every workgroup shape, sparsities 0–100%, empty
//!   rows, FC), depthwise 3x3 / 5x5 at stride 1 and 2 with asymmetric pads and dilation, the
//!   stem conv, pools, global average pool, add / sub / mul / channel mul, every activation,
//!   affine and PReLU, softmax, concat and views, and a small inverted-residual network. All
//!   of them, as natively: SwiftShader runs the lot in seconds.
//! - With `--features zoo`: whole MobileNetV2, dense (GEMM for every 1x1) and 85% pruned
//!   (CSR SpMM, and the GEMM on the same file), on the zoo's first two verification images,
//!   against the CPU plan: logits within 1e-5 (measured 1.9e-6), same top-1.
//!
//! No adapter is a failure here, not a skip: the target launches Chromium with the flag that
//! gives one. Kept out of plain `cargo test --target wasm32-unknown-unknown` (`test = false` in
//! Cargo.toml), which runs the other wasm suites under Node; run it by name:
//! `cargo test --target wasm32-unknown-unknown --features zoo --test gpu_browser`.
#![cfg(target_arch = "wasm32")]

#[path = "common/gpu.rs"]
mod gpu_cases;
#[path = "common/gpu_llm_model.rs"]
mod gpu_llm_cases;
#[path = "common/gpu_llm_ops.rs"]
mod gpu_llm_ops;

use std::cell::RefCell;
use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};
use zeroskip::gpu::GpuContext;

wasm_bindgen_test_configure!(run_in_browser);

thread_local! {
    /// One device for the page (pipelines compile once across the tests).
    static CTX: RefCell<Option<GpuContext>> = const { RefCell::new(None) };
}

/// The page's WebGPU device; no adapter fails the test.
async fn gpu() -> GpuContext {
    if let Some(c) = CTX.with(|c| c.borrow().clone()) {
        return c;
    }
    let c = GpuContext::new().await.unwrap_or_else(|e| {
        panic!(
            "no WebGPU device in this browser: {e}\n\
             Chromium needs --enable-unsafe-webgpu (webdriver.json; run `make test-gpu-browser`)"
        )
    });
    let i = c.adapter_info();
    console_log!(
        "gpu: {} / {} ({:?}, {:?}, cpu emulation: {})",
        i.name,
        i.driver,
        i.device_type,
        i.backend,
        c.is_cpu()
    );
    CTX.with(|x| *x.borrow_mut() = Some(c.clone()));
    c
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Runs one shared test body on the page's device and logs how long it took.
macro_rules! browser_tests {
    ($($name:ident => |$ctx:ident| $body:expr;)*) => {$(
        #[wasm_bindgen_test]
        async fn $name() {
            let $ctx = gpu().await;
            let $ctx = &$ctx;
            let t = now_ms();
            $body.await;
            console_log!("{}: {:.1} s", stringify!($name), (now_ms() - t) / 1e3);
        }
    )*};
}

browser_tests! {
    llm_tiny_models_match_wasm => |ctx| gpu_llm_cases::tiny_models_match_wasm(ctx);
    llm_sampling_matches_wasm => |ctx| gpu_llm_cases::sampling_matches_wasm(ctx);
    llm_backend_policy => |ctx| gpu_llm_cases::backend_policy(ctx);
    llm_lost_device_finishes_on_wasm => |ctx| gpu_llm_cases::lost_device_finishes_on_wasm(ctx);
    llm_rmsnorm_matches_the_cpu => |ctx| gpu_llm_ops::rmsnorm(ctx);
    llm_rope_kv_matches_the_cpu => |ctx| gpu_llm_ops::rope_kv(ctx);
    llm_attention_matches_f64 => |ctx| gpu_llm_ops::attention(ctx);
    llm_threshold_matches_the_cpu => |ctx| gpu_llm_ops::threshold(ctx);
    llm_swiglu_matches_the_cpu => |ctx| gpu_llm_ops::swiglu(ctx);
    llm_topk_matches_the_cpu_sampler => |ctx| gpu_llm_ops::topk(ctx);
    pointwise_sparse_and_dense_match_the_reference => |ctx| gpu_cases::pointwise(ctx);
    auto_picks_sparse_for_pruned_layers => |ctx| gpu_cases::auto_picks_sparse(ctx);
    dwconv_matches_the_reference => |ctx| gpu_cases::dwconv(ctx);
    full_conv_matches_the_reference => |ctx| gpu_cases::full_conv(ctx);
    pools_match_the_reference => |ctx| gpu_cases::pools(ctx);
    elementwise_ops_match_the_reference => |ctx| gpu_cases::elementwise(ctx);
    softmax_matches_the_reference => |ctx| gpu_cases::softmax(ctx);
    concat_and_views_match_the_reference => |ctx| gpu_cases::concat_and_views(ctx);
    small_network_matches_the_cpu_plan_and_reuses_buffers =>
        |ctx| gpu_cases::small_network(ctx);
}

/// Whole MobileNetV2 (the zoo's ONNX files, compiled into the test) on the browser's GPU
/// against the CPU plan.
#[cfg(feature = "zoo")]
mod mobilenet_v2 {
    use super::{gpu, gpu_cases, now_ms};
    use wasm_bindgen_test::{console_log, wasm_bindgen_test};
    use zeroskip::gpu::{GpuOptions, GpuSession, Pointwise};
    use zeroskip::graph::{Plan, PlanOptions, Session};
    use zeroskip::import::onnx;

    macro_rules! zoo_file {
        ($name:literal) => {
            include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/.cache/zoo/", $name))
        };
    }

    /// onnxruntime's inputs on the 20 verification images, (20, 3, 224, 224) f32.
    const INPUTS: &[u8] = zoo_file!("verify/mobilenet_v2_inputs.npy");

    /// Row `i` of a little-endian f32, C-order .npy array of rows of `per` floats.
    fn npy_row(b: &[u8], i: usize, per: usize) -> Vec<f32> {
        assert_eq!(&b[..6], b"\x93NUMPY", "not an .npy file");
        let (hlen, start) = match b[6] {
            1 => (u16::from_le_bytes([b[8], b[9]]) as usize, 10),
            _ => (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12),
        };
        let header = std::str::from_utf8(&b[start..start + hlen]).unwrap();
        assert!(
            header.contains("'descr': '<f4'") && header.contains("'fortran_order': False"),
            "{header}"
        );
        let data = &b[start + hlen..];
        assert!(data.len() >= 4 * per * (i + 1), "{header}: no row {i}");
        data[4 * per * i..4 * per * (i + 1)]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }

    /// Verification images each session runs, in turn (the second run also checks that
    /// nothing of the first one is left in the reused buffers).
    const IMAGES: usize = 2;

    /// `name` whole on the GPU, once per `Pointwise` choice (each paired with the kernel it
    /// must use), against the CPU plan on the first `IMAGES` images: max |Δlogit| ≤ 1e-5 and
    /// the same top-1.
    async fn matches_the_cpu_plan(name: &str, bytes: &[u8], runs: &[(Pointwise, &str)]) {
        let ctx = gpu().await;
        let g = onnx::load(name, bytes).unwrap();
        let per = g.input_shape().len();
        let xs: Vec<Vec<f32>> = (0..IMAGES).map(|i| npy_row(INPUTS, i, per)).collect();
        let t = now_ms();
        let mut cpu = Session::new(Plan::new(&g, PlanOptions::default()).unwrap());
        let want: Vec<Vec<f32>> = xs.iter().map(|x| cpu.run(x).unwrap().to_vec()).collect();
        let cpu_ms = (now_ms() - t) / IMAGES as f64;
        for &(pointwise, kernel) in runs {
            let what = format!("{name} {pointwise:?}");
            let t = now_ms();
            let mut s = GpuSession::new(&ctx, &g, GpuOptions { pointwise })
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            let setup_ms = now_ms() - t;
            let layers = |k: &str| {
                s.report()
                    .iter()
                    .filter(|l| l.kernel.starts_with(k))
                    .count()
            };
            let (sparse, dense) = (layers("spmm"), layers("gemm"));
            assert!(layers(kernel) > 0, "{what}: no {kernel} layer");
            for (i, (x, want)) in xs.iter().zip(&want).enumerate() {
                let t = now_ms();
                let got = s.run(x).await.unwrap_or_else(|e| panic!("{what}: {e}"));
                let run_ms = now_ms() - t;
                let d = gpu_cases::max_abs_diff(&got, want);
                let (top, top_cpu) = (gpu_cases::argmax(&got), gpu_cases::argmax(want));
                console_log!(
                    "{what}, image {i}: {sparse} sparse + {dense} dense 1x1/FC layers, {} \
                     dispatches; max |Δlogit| vs CPU = {d:.2e}; top-1 {top} (CPU {top_cpu}); \
                     GPU session {setup_ms:.0} ms, run {run_ms:.0} ms; CPU plan {cpu_ms:.0} ms",
                    s.dispatches()
                );
                // measured 1.9e-6 (SwiftShader, MobileNetV2 dense and s85, both plans)
                assert!(d <= 1e-5, "{what}, image {i}: max |Δlogit| {d} > 1e-5");
                assert_eq!(top, top_cpu, "{what}, image {i}: top-1");
            }
        }
    }

    /// The dense model: every 1x1 and the FC on the tiled GEMM.
    #[wasm_bindgen_test]
    async fn mobilenet_v2_dense_on_the_gpu_matches_the_cpu_plan() {
        let bytes = zoo_file!("mobilenet_v2.onnx");
        matches_the_cpu_plan("mobilenet_v2", bytes, &[(Pointwise::Auto, "gemm")]).await;
    }

    /// The 85%-pruned model: on the CSR SpMM (`Auto`), and on the GEMM (`Dense`).
    #[wasm_bindgen_test]
    async fn mobilenet_v2_pruned_on_the_gpu_matches_the_cpu_plan() {
        let bytes = zoo_file!("mobilenet_v2_s85.onnx");
        let runs = [(Pointwise::Auto, "spmm"), (Pointwise::Dense, "gemm")];
        matches_the_cpu_plan("mobilenet_v2_s85", bytes, &runs).await;
    }
}
