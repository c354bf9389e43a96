#![no_main]

libfuzzer_sys::fuzz_target!(init: zeroskip_fuzz::seeds::init("tokenizer"), |data: &[u8]| {
    zeroskip_fuzz::tokenizer(data);
});
