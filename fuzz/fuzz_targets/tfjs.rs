#![no_main]

libfuzzer_sys::fuzz_target!(init: zeroskip_fuzz::seeds::init("tfjs"), |data: &[u8]| {
    zeroskip_fuzz::tfjs(data);
});
