#![no_main]

libfuzzer_sys::fuzz_target!(init: zeroskip_fuzz::seeds::init("sparse_matrix"), |data: &[u8]| {
    zeroskip_fuzz::sparse_matrix(data);
});
