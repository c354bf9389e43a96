// Copies x (n) into y at element offset dst: the parts of a channel Concat, each written
// after the previous ones (CHW concatenation along channels is contiguous).
// One invocation per element, 256 per workgroup, folded into workgroup_id.y past 65535.

struct Params {
    n: u32,    // elements to copy
    dst: u32,  // first element of y written
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;                  // Params (above): this step's sizes
@group(0) @binding(1) var<storage, read> x: array<f32>;        // x (n)
@group(0) @binding(2) var<storage, read_write> y: array<f32>;  // y (dst + n, …)

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
    y[p.dst + i] = x[i];
}
