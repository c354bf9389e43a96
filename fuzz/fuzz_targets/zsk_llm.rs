#![no_main]

libfuzzer_sys::fuzz_target!(init: zeroskip_fuzz::seeds::init("zsk_llm"), |data: &[u8]| {
    zeroskip_fuzz::zsk_llm(data);
});
