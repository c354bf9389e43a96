//! The selector: dense for dense-ish layers, the right block width for structured sparsity.

use zeroskip::kernels::{select, Choice, Isa, LayerStats, Op};
use zeroskip::synth::{sparse_weights, Pattern, Rng};
use zeroskip::Error;

fn choose(sparsity: f64, pattern: Pattern) -> Choice {
    let mut rng = Rng::new(3);
    let w = sparse_weights(&mut rng, 96, 384, sparsity, pattern);
    select(&LayerStats::measure(&w, 96, 384, 196), Isa::best()).unwrap()
}

tests! {
    fn measures_density_per_block_width() {
        // W (3, 4): block (rows 0-1) uses inputs {0, 2}; row 2 uses {3}.
        #[rustfmt::skip]
        let w = [
            1.0, 0.0, 0.0, 0.0,
            0.0, 0.0, 2.0, 0.0,
            0.0, 0.0, 0.0, 3.0,
        ];
        let s = LayerStats::measure(&w, 3, 4, 10);
        assert_eq!(s.density[0], 3.0 / 12.0); // nr = 1: exact nonzeros
        assert_eq!(s.density[1], 5.0 / 12.0); // nr = 2: two 2-wide positions + one tail position
        assert_eq!(s.density[2], 3.0 / 12.0); // nr = 4 > c_out: all rows are width-1 tails
    }

    fn dense_layers_stay_dense() {
        for s in [0.0, 0.2] {
            assert!(matches!(choose(s, Pattern::Unstructured), Choice::Dense(k) if k.op == Op::Gemm), "{s}");
        }
    }

    fn very_sparse_layers_go_sparse_with_the_right_width() {
        let Choice::Sparse(k) = choose(0.9, Pattern::Unstructured) else { panic!("90% unstructured stayed dense") };
        assert_eq!(k.nr(), 1);
        let Choice::Sparse(k) = choose(0.9, Pattern::Groups(4)) else { panic!("90% 4x1 stayed dense") };
        assert_eq!(k.nr(), 4, "4x1 blocks should use a 4-wide kernel, got {}", k.name);
        assert_eq!(k.isa, Isa::best());
    }

    fn unknown_isa_is_an_error_not_a_panic() {
        if Isa::best() != Isa::Relaxed {
            let stats = LayerStats { c_out: 8, c_in: 8, hw: 8, density: [1.0; 4] };
            assert!(matches!(select(&stats, Isa::Relaxed), Err(Error::UnknownKernel { .. })));
        }
    }
}
