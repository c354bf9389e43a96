//! Lowering without a device: fusion, views, buffer reuse, typed refusals, grid folding.

use super::ops::spmm_shape;
use super::slots::SlotPool;
use super::*;
use crate::graph::{Activation, Conv, Linear, Op, Plan, PlanOptions, Shape};

const ROOMY: DeviceLimits = DeviceLimits {
    max_groups: 65535,
    max_binding: 128 << 20,
};

/// Appends a node whose output shape is inferred; returns its value.
fn add(g: &mut Graph, op: Op, inputs: &[ValueId]) -> ValueId {
    g.push(op, inputs).expect("test graph")
}

fn graph(input: Shape) -> Graph {
    Graph::new("t", input)
}

fn conv(c_in: usize, c_out: usize, k: usize, groups: usize) -> Op {
    let mut c = Conv::new(c_out, c_in, groups, [k, k]);
    c.pads = [k / 2; 4];
    c.weight.fill(0.5);
    Op::Conv(c)
}

/// An inverted residual block: expand + ReLU6, depthwise + ReLU, project, add the skip,
/// then pool, flatten, FC, softmax.
fn block() -> Graph {
    let relu6 = Op::Act(Activation::Clip { min: 0.0, max: 6.0 });
    let mut g = graph(Shape::new(4, 5, 5));
    let e = add(&mut g, conv(4, 8, 1, 1), &[0]);
    let e = add(&mut g, relu6, &[e]);
    let d = add(&mut g, conv(8, 8, 3, 8), &[e]);
    let d = add(&mut g, Op::Act(Activation::Relu), &[d]);
    let p = add(&mut g, conv(8, 4, 1, 1), &[d]);
    let r = add(&mut g, Op::Add, &[0, p]);
    let a = add(&mut g, Op::GlobalAvgPool, &[r]);
    let f = add(&mut g, Op::View(Shape::vector(4)), &[a]);
    let fc = Op::Linear(Linear {
        c_out: 3,
        c_in: 4,
        weight: vec![0.0; 12],
        bias: vec![1.0; 3],
    });
    let l = add(&mut g, fc, &[f]);
    add(&mut g, Op::Softmax, &[l]);
    g
}

#[test]
fn lowering_fuses_clamps_shares_views_and_reuses_buffers() {
    let low = lower(&block(), GpuOptions::default(), ROOMY).unwrap();
    let kernels: Vec<&str> = low.report.iter().map(|l| l.kernel.as_str()).collect();
    assert_eq!(
        kernels,
        [
            "gemm_f32_64x64__wgsl",
            "fused into n0_Conv",
            "dwconv_f32_64x1_3x3s1__wgsl",
            "fused into n2_Conv",
            "gemm_f32_64x64__wgsl",
            "add_f32_256x1__wgsl",
            "gavgpool_f32_64x1__wgsl",
            "view",
            // All-zero FC weights: sparse (and empty rows).
            "spmm_f32_4x64__wgsl",
            "softmax_f32_256x1__wgsl",
        ]
    );
    assert_eq!(low.steps.len(), 7, "fused and view nodes dispatch nothing");
    // The ReLU6 and ReLU clamps ride on their producers.
    let clamp = |s: &StepDesc, at: usize| {
        (
            f32::from_bits(s.params[at]),
            f32::from_bits(s.params[at + 1]),
        )
    };
    assert_eq!(clamp(&low.steps[0], 3), (0.0, 6.0));
    assert_eq!(clamp(&low.steps[1], 9), (0.0, f32::INFINITY));
    // 10 values in 3 buffers: the input lives until the add, at most two others with it.
    assert_eq!(low.slot_len.len(), 3, "{:?}", low.slot_len);
    assert_eq!(low.slot_len.iter().max(), Some(&200), "the 8-channel maps");
    // No step reads the buffer it writes (WebGPU forbids it within one dispatch).
    for s in &low.steps {
        assert!(!s.reads.contains(&s.write), "{s:?}");
    }
    assert_eq!(
        low.steps[5].reads,
        [low.steps[4].write],
        "the view shares its buffer"
    );
}

#[test]
fn unsupported_ops_and_oversized_buffers_are_refused_before_any_allocation() {
    let mut g = graph(Shape::new(8, 4, 4));
    add(&mut g, Op::DepthToSpace { block: 2 }, &[0]);
    let e = lower(&g, GpuOptions::default(), ROOMY).unwrap_err();
    assert!(
        matches!(&e, Error::UnsupportedOp { node, .. } if node == "n0_DepthToSpace"),
        "{e}"
    );

    let tiny = DeviceLimits {
        max_groups: 65535,
        max_binding: 100,
    };
    let e = lower(&block(), GpuOptions::default(), tiny).unwrap_err();
    assert!(
        matches!(&e, Error::Gpu { kind: GpuFailure::Limit, detail } if detail.contains("graph input")),
        "{e}"
    );
}

#[test]
fn large_grids_fold_under_the_workgroup_limit() {
    let few = DeviceLimits {
        max_groups: 4,
        max_binding: 128 << 20,
    };
    let mut g = graph(Shape::new(1, 40, 100));
    add(&mut g, Op::Act(Activation::Tanh), &[0]);
    // 4000 elements / 256 = 16 workgroups → 4 × 4.
    let low = lower(&g, GpuOptions::default(), few).unwrap();
    assert_eq!(low.steps[0].groups, [4, 4, 1]);
    let mut g = graph(Shape::new(1, 100, 100));
    add(&mut g, Op::Act(Activation::Tanh), &[0]);
    let e = lower(&g, GpuOptions::default(), few).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Gpu {
                kind: GpuFailure::Limit,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn spmm_shape_covers_the_pixels_with_the_fewest_lanes() {
    assert_eq!(spmm_shape(1), (1, 64));
    assert_eq!(spmm_shape(4), (1, 64));
    assert_eq!(spmm_shape(5), (2, 32));
    assert_eq!(spmm_shape(49), (16, 4));
    assert_eq!(spmm_shape(196), (64, 1));
    assert_eq!(spmm_shape(12544), (64, 1));
}

#[test]
fn pool_reuses_the_closest_free_buffer_and_grows_when_needed() {
    let mut p = SlotPool::default();
    let a = p.alloc(100);
    let b = p.alloc(10);
    p.release(a);
    p.release(b);
    assert_eq!(p.alloc(8), b, "smallest that fits");
    assert_eq!(p.alloc(150), a, "no fit: the largest free one, grown");
    assert_eq!(p.len[a], 150);
    assert_eq!(p.alloc(1), 2, "nothing free: a new buffer");
}

#[test]
fn the_cpu_plan_and_the_gpu_lowering_make_the_same_fusion_and_view_decisions() {
    // Both read one `Analysis`: the nodes they run nothing for (fused, views) coincide.
    let g = block();
    let plan = Plan::new(&g, PlanOptions::default()).unwrap();
    let low = lower(&g, GpuOptions::default(), ROOMY).unwrap();
    let shared = |k: &str| k.starts_with("fused into") || k == "view";
    let cpu: Vec<bool> = plan.report().iter().map(|l| shared(&l.kernel)).collect();
    let gpu: Vec<bool> = low.report.iter().map(|l| shared(&l.kernel)).collect();
    assert_eq!(cpu, gpu);
    assert_eq!(
        cpu.iter().filter(|&&s| s).count(),
        3,
        "two fusions and a view"
    );
}
