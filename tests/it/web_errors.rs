//! The wasm façade's errors as JS receives them: a real `Error` whose message is the engine's
//! text and whose `code` is one of the npm package's `ERROR_CODES` (js/errors.js), and the
//! WebGPU fallback policy where there is no WebGPU (Node). The façade calls JS, so those run
//! on wasm32 only; the code of each error kind is checked on every target.

use zeroskip::error::{Error, GpuFailure};

tests! {
    /// Each kind of error maps to the code the npm package's callers switch on, and every code
    /// is one that js/errors.js lists.
    fn every_error_has_a_code_the_npm_package_knows() {
        let js = include_str!("../../js/errors.js");
        let s = String::new;
        let cases = [
            (Error::BadModel { file: s(), format: s(), detail: s() }, "BadModel"),
            (Error::UnsupportedOp { file: s(), node: s(), op: s(), detail: s() }, "BadModel"),
            (Error::BadTensor { file: s(), tensor: s(), detail: s() }, "BadModel"),
            (Error::Unsupported { what: s(), value: s(), expected: s() }, "BadModel"),
            (Error::BadArgument { what: s(), detail: s() }, "BadInput"),
            (Error::BufferTooSmall { kernel: s(), buffer: s(), expected: 1, got: 0 }, "BadInput"),
            (Error::NoWebGpu { detail: s() }, "NoWebGPU"),
            (Error::Gpu { kind: GpuFailure::NoAdapter, detail: s() }, "NoWebGPU"),
            (Error::Gpu { kind: GpuFailure::DeviceLost, detail: s() }, "NoWebGPU"),
            (Error::Gpu { kind: GpuFailure::Shader, detail: s() }, "Runtime"),
            (Error::Unavailable { what: s() }, "Unsupported"),
            (Error::State { detail: s() }, "Runtime"),
            (Error::Numerical { layer: s(), detail: s() }, "Runtime"),
        ];
        for (e, code) in cases {
            assert_eq!(e.code(), code, "{e:?}");
            assert!(js.contains(&format!("'{code}', //")), "{code} is not in ERROR_CODES");
        }
    }
}

#[cfg(target_arch = "wasm32")]
mod js {
    use crate::common::onnx::tiny_network;
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_test::wasm_bindgen_test;
    use zeroskip::web::{Model, TextGenerator};

    /// `(code, message)` of a thrown value, which must be a JS `Error`.
    fn code_and_message(thrown: JsValue) -> (String, String) {
        let err: js_sys::Error = thrown.dyn_into().expect("the façade throws JS Errors");
        let code = js_sys::Reflect::get(&err, &"code".into()).expect("an own `code`");
        (
            code.as_string().expect("`code` is a string"),
            err.message().into(),
        )
    }

    /// Asserts that `result` failed with `code` and a message containing `text`.
    fn assert_thrown<T>(result: Result<T, JsValue>, code: &str, text: &str) {
        let Err(thrown) = result else {
            panic!("no error, expected {code} ({text})");
        };
        let (got, message) = code_and_message(thrown);
        assert_eq!(got, code, "{message}");
        assert!(message.contains(text), "{message}");
    }

    /// Opens the tiny ONNX network on `backend`.
    async fn open(backend: &str) -> Result<Model, JsValue> {
        Model::open("net.onnx".into(), tiny_network(0.5), backend.into(), false).await
    }

    #[wasm_bindgen_test]
    fn corrupt_or_truncated_files_are_bad_model_and_named() {
        let onnx = Model::from_onnx("corrupt.onnx", &[9; 1000], false);
        assert_thrown(onnx, "BadModel", "corrupt.onnx");
        let gguf = TextGenerator::load("tiny.gguf", b"GGUF\x03\0\0\0".to_vec(), None);
        assert_thrown(gguf, "BadModel", "tiny.gguf");
    }

    #[wasm_bindgen_test]
    async fn an_unknown_backend_is_bad_input() {
        assert_thrown(open("cuda").await, "BadInput", "cuda");
    }

    /// Node has no `navigator.gpu`: `webgpu` is refused with NoWebGPU (and the message the npm
    /// package matched before it read `code`), `auto` falls back to WASM and says why.
    #[wasm_bindgen_test]
    async fn without_webgpu_auto_falls_back_and_webgpu_is_refused() {
        assert_thrown(
            open("webgpu").await,
            "NoWebGPU",
            "webgpu backend unavailable: ",
        );

        let m = open("auto")
            .await
            .unwrap_or_else(|_| panic!("auto did not fall back"));
        assert_eq!(m.backend(), "wasm");
        let why = m.fallback().expect("auto says why it fell back");
        assert!(why.contains("no adapter"), "{why}");
        // The reports parse as JSON with the keys the pages read.
        let report: serde_json::Value = serde_json::from_str(&m.report()).unwrap();
        let first = &report[0];
        for key in [
            "node", "op", "input", "output", "kernel", "sparsity", "flops",
        ] {
            assert!(first.get(key).is_some(), "{key} missing from {first}");
        }
        let outputs: serde_json::Value = serde_json::from_str(&m.outputs()).unwrap();
        assert_eq!(outputs[0]["name"], "output");
        assert_eq!(outputs[0]["offset"], 0);
    }
}
