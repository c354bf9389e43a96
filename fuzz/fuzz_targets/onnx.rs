#![no_main]

libfuzzer_sys::fuzz_target!(init: zeroskip_fuzz::seeds::init("onnx"), |data: &[u8]| {
    zeroskip_fuzz::onnx(data);
});
