// Windowed average or max pooling, CHW, batch 1 (ONNX AveragePool with
// count_include_pad = 0, MaxPool): y (C, OH, OW) from x (C, H, W); the average divides by the
// number of real (non-pad) inputs under the window, the max ignores padding.
//
// Work decomposition: as dwconv.wgsl, one invocation per output pixel, workgroup_id.z = the
// channel. Pools are rare and small in these networks (MobileNetV1's final 7x7 average).

struct Params {
    c: u32,         // channels
    h: u32,         // input plane
    w: u32,
    oh: u32,        // output plane
    ow: u32,
    kh: u32,        // window
    kw: u32,
    sh: u32,        // stride
    sw: u32,
    pad_top: u32,
    pad_left: u32,
    pad0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;                  // Params (above): this step's sizes
@group(0) @binding(1) var<storage, read> x: array<f32>;        // x (C, H, W)
@group(0) @binding(2) var<storage, read_write> y: array<f32>;  // y (C, OH, OW)

override MAX: bool = false;  // max pool, else average

@compute @workgroup_size(64, 1, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let ch = wg.z;
    let i = (wg.y * nwg.x + wg.x) * 64u + lid.x;
    let plane = p.oh * p.ow;
    if i >= plane {
        return;
    }
    let oy = i / p.ow;
    let ox = i % p.ow;
    let x0 = ch * p.h * p.w;
    var acc = 0.0;
    var count = 0u;  // real inputs seen; the checked window guarantees at least one
    for (var ky = 0u; ky < p.kh; ky++) {
        let iy = oy * p.sh + ky - p.pad_top;  // wraps to huge above the image
        if iy >= p.h {
            continue;
        }
        for (var kx = 0u; kx < p.kw; kx++) {
            let ix = ox * p.sw + kx - p.pad_left;
            if ix >= p.w {
                continue;
            }
            let v = x[x0 + iy * p.w + ix];
            if MAX {
                acc = select(max(acc, v), v, count == 0u);
            } else {
                acc += v;
            }
            count++;
        }
    }
    if !MAX {
        acc /= f32(max(count, 1u));
    }
    y[ch * plane + i] = acc;
}
