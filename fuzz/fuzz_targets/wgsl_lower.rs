#![no_main]

libfuzzer_sys::fuzz_target!(init: zeroskip_fuzz::seeds::init("wgsl_lower"), |data: &[u8]| {
    zeroskip_fuzz::wgsl_lower(data);
});
