//! The GPU linear layers of the LLM natively (Mesa lavapipe): the shared cases of
//! tests/common/gpu_llm_linear.rs (also run in the browser by tests/gpu_browser.rs), each
//! blocking on its body; no adapter skips as in gpu_native.rs.

use crate::gpu_llm_linear_cases as cases;

gpu_case_tests! {
    /// F32, F16, Q4_0, Q4_1, Q8_0: odd shapes, t = 1, 2, 5, 16, offsets, acc, zero x.
    llm_dense_linear_matches_the_cpu => cases::dense_linear;
    /// g16i4, g8i4, g16i8, g8i8, nm24i8, cm32i8, cm32i4 (every column), empty rows.
    llm_sparse_linear_matches_the_cpu => cases::sparse_linear;
    /// cm32 decode over compact's nonzero list: 0%, 40%, 100% zero inputs.
    llm_col_skip_matches_the_cpu => cases::col_skip;
    /// Every format cut into several parts by a small binding limit.
    llm_linear_parts_match_the_cpu => cases::parts;
    /// Embedding rows of every dense type, one part and several.
    llm_gather_matches_decode_row => cases::gather;
    /// csr8, a row over the limit, a sparse gather: typed errors.
    llm_linear_errors_are_typed => cases::errors;
    /// Decode GEMV times of SmolLM2's FFN shapes (prints; run with --ignored --nocapture).
    #[ignore]
    llm_linear_decode_timing => cases::timing;
}
