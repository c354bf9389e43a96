#![no_main]

libfuzzer_sys::fuzz_target!(init: zeroskip_fuzz::seeds::init("gguf"), |data: &[u8]| {
    zeroskip_fuzz::gguf(data);
});
