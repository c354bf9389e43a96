// Elementwise binary ops, CHW, batch 1, with an optional fused clamp:
//   OP 0: y = clamp(a + b)    residual Add (+ fused ReLU / ReLU6)
//   OP 1: y = a − b           Sub
//   OP 2: y = a · b           Mul, same shape
//   OP 3: y[c, p] = a[c, p] · b[c]   Mul by a per-channel vector (squeeze-and-excitation)
// One invocation per output element, 256 per workgroup; large tensors fold into
// workgroup_id.y past 65535 workgroups. OP is an override constant, so each op compiles to
// straight-line code.

struct Params {
    n: u32,    // elements of y
    hw: u32,   // pixels per channel (OP 3)
    lo: f32,   // clamp (±inf for none)
    hi: f32,
}

@group(0) @binding(0) var<uniform> p: Params;                  // Params (above): this step's sizes
@group(0) @binding(1) var<storage, read> a: array<f32>;        // a (C, H, W)
@group(0) @binding(2) var<storage, read> b: array<f32>;        // b (C, H, W), or (C) for OP 3
@group(0) @binding(3) var<storage, read_write> y: array<f32>;  // y (C, H, W)

override OP: u32 = 0u;

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
    var v: f32;
    switch OP {
        case 0u: { v = a[i] + b[i]; }
        case 1u: { v = a[i] - b[i]; }
        case 2u: { v = a[i] * b[i]; }
        default: { v = a[i] * b[i / p.hw]; }
    }
    y[i] = min(max(v, p.lo), p.hi);
}
