// Global average pooling, CHW, batch 1: y[c] = (Σ_p x[c, p]) / hw.
//
// Work decomposition. One workgroup of 64 invocations per channel (workgroup_id.x, folded
// into .y past 65535 channels): each invocation sums a strided slice of the plane
// (consecutive invocations read consecutive pixels, coalesced), then the 64 partial sums
// are reduced as a tree in workgroup memory. The summation order differs from the
// sequential reference; the difference is a few ulps of the mean.

struct Params {
    c: u32,   // channels
    hw: u32,  // pixels per channel
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;                  // Params (above): this step's sizes
@group(0) @binding(1) var<storage, read> x: array<f32>;        // x (C, H·W)
@group(0) @binding(2) var<storage, read_write> y: array<f32>;  // y (C)

var<workgroup> part: array<f32, 64>;

@compute @workgroup_size(64, 1, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    // Uniform per workgroup, so the barriers below stay in uniform control flow.
    let ch = wg.y * nwg.x + wg.x;
    let live = ch < p.c;
    var s = 0.0;
    if live {
        for (var i = lid.x; i < p.hw; i += 64u) {
            s += x[ch * p.hw + i];
        }
    }
    part[lid.x] = s;
    workgroupBarrier();
    for (var half = 32u; half > 0u; half >>= 1u) {
        if lid.x < half {
            part[lid.x] += part[lid.x + half];
        }
        workgroupBarrier();
    }
    if live && lid.x == 0u {
        y[ch] = part[0] / f32(p.hw);
    }
}
