// Depthwise convolution, CHW, batch 1, any window, strides, dilations and (asymmetric) pads:
//   y[c, oy, ox] = clamp(b[c] + Σ_{ky,kx} w[c, ky, kx] · x[c, oy·SH + ky·dh − pad_top,
//                                                        ox·SW + kx·dw − pad_left], lo, hi)
// Taps that fall on padding are skipped (zero padding).
//
// Work decomposition. One invocation per output pixel, 64 per workgroup along the row-major
// output plane; workgroup_id.z is the channel, so every weight load is uniform across the
// workgroup (a broadcast) and neighbouring invocations read neighbouring input pixels (a
// coalesced or, at stride 2, half-coalesced load). The op is memory-bound (KH·KW multiply-adds
// per output), and each input pixel is re-read by at most KH·KW/(SH·SW) neighbours that run
// together, which the cache absorbs, so no workgroup-memory staging. KH, KW, SH and SW are
// override constants: the common 3x3/5x5, stride 1/2 windows get fully unrolled loops.
// Planes larger than 64·65535 pixels fold into workgroup_id.y.
// Accumulation order is the reference's: bias, then kernel rows, then kernel columns.

struct Params {
    c: u32,         // channels
    h: u32,         // input plane
    w: u32,
    oh: u32,        // output plane
    ow: u32,
    pad_top: u32,
    pad_left: u32,
    dil_h: u32,     // dilation
    dil_w: u32,
    lo: f32,        // clamp (fused ReLU / ReLU6; ±inf for none)
    hi: f32,
    pad0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;                  // Params (above): this step's sizes
@group(0) @binding(1) var<storage, read> x: array<f32>;        // x (C, H, W)
@group(0) @binding(2) var<storage, read> wts: array<f32>;      // w (C, KH, KW) | bias (C)
@group(0) @binding(3) var<storage, read_write> y: array<f32>;  // y (C, OH, OW)

override KH: u32 = 3u;  // kernel height
override KW: u32 = 3u;  // kernel width
override SH: u32 = 1u;  // stride along H
override SW: u32 = 1u;  // stride along W

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
    let w0 = ch * KH * KW;
    var acc = wts[p.c * KH * KW + ch];
    for (var ky = 0u; ky < KH; ky++) {
        // Unsigned wrap-around: a row above the image becomes huge and fails `< h`.
        let iy = oy * SH + ky * p.dil_h - p.pad_top;
        if iy >= p.h {
            continue;
        }
        for (var kx = 0u; kx < KW; kx++) {
            let ix = ox * SW + kx * p.dil_w - p.pad_left;
            if ix >= p.w {
                continue;
            }
            acc += wts[w0 + ky * KW + kx] * x[x0 + iy * p.w + ix];
        }
    }
    y[ch * plane + i] = min(max(acc, p.lo), p.hi);
}
