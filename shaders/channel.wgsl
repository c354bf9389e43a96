// Per-channel elementwise ops, CHW, batch 1:
//   PRELU false: y[c, p] = x[c, p] · scale[c] + shift[c]   (a BatchNorm that could not be folded)
//   PRELU true:  y[c, p] = x[c, p] ≥ 0 ? x[c, p] : slope[c] · x[c, p]
// One invocation per element, 256 per workgroup, folded into workgroup_id.y past 65535.

struct Params {
    n: u32,   // elements (C·H·W)
    hw: u32,  // pixels per channel
    c: u32,   // channels
    pad0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;                  // Params (above): this step's sizes
@group(0) @binding(1) var<storage, read> x: array<f32>;        // x (C, H, W)
@group(0) @binding(2) var<storage, read> wts: array<f32>;      // scale (C) | shift (C), or slope (C)
@group(0) @binding(3) var<storage, read_write> y: array<f32>;  // y (C, H, W)

override PRELU: bool = false;

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
    let c = i / p.hw;
    let v = x[i];
    if PRELU {
        y[i] = select(wts[c] * v, v, v >= 0.0);
    } else {
        y[i] = v * wts[c] + wts[p.c + c];
    }
}
