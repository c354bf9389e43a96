// Elementwise activations, any shape: y = f(x) with f chosen by the override ACT:
//   0 Clamp           min(max(x, a), b)               (ReLU: a = 0, b = ∞; ReLU6: b = 6)
//   1 HardSigmoid     clamp(a·x + b, 0, 1)
//   2 HardSwish       x · clamp(x / 6 + 1/2, 0, 1)
//   3 Sigmoid         1 / (1 + e^−x)
//   4 Tanh            tanh(x)
//   5 LeakyReLU       x ≥ 0 ? x : a·x
// (`shaders::unary` names each pipeline `<op>_f32_256x1__wgsl`).
// ReLU and Clip right after a conv, linear or add are fused into that op instead (lower.rs);
// this shader runs the rest. One invocation per element, 256 per workgroup, folded into
// workgroup_id.y past 65535 workgroups.

struct Params {
    n: u32,   // elements
    a: f32,   // first parameter (min, alpha)
    b: f32,   // second parameter (max, beta)
    pad0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;                  // Params (above): this step's sizes
@group(0) @binding(1) var<storage, read> x: array<f32>;        // x (n)
@group(0) @binding(2) var<storage, read_write> y: array<f32>;  // y (n)

override ACT: u32 = 0u;

@compute @workgroup_size(256, 1, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = (wg.y * nwg.x + wg.x) * 256u + lid.x;
    if i >= p.n {
        return;
    }
    let v = x[i];
    var r: f32;
    switch ACT {
        case 0u: { r = min(max(v, p.a), p.b); }
        case 1u: { r = clamp(p.a * v + p.b, 0.0, 1.0); }
        case 2u: { r = v * clamp(v / 6.0 + 0.5, 0.0, 1.0); }
        // e^−x overflows to +inf for x < −88, giving the correct limit 0.
        case 3u: { r = 1.0 / (1.0 + exp(-v)); }
        // tanh saturates to ±1 in f32 beyond |x| ≈ 9; clamping first keeps exp-based
        // implementations away from inf / inf.
        case 4u: { r = tanh(clamp(v, -10.0, 10.0)); }
        default: { r = select(p.a * v, v, v >= 0.0); }
    }
    y[i] = r;
}
