// Full convolution (groups = 1), CHW, batch 1: the network stem (3x3 stride 2 over RGB) and
// any other non-1x1 conv that is not depthwise.
//   y[co, oy, ox] = clamp(b[co] + Σ_{ci,ky,kx} w[co, ci, ky, kx] · x[ci, oy·sh + ky·dh − pad_top,
//                                                                  ox·sw + kx·dw − pad_left], lo, hi)
// Taps on padding are skipped (zero padding).
//
// Work decomposition. One invocation per output pixel, 64 per workgroup along the row-major
// output plane, workgroup_id.z = output channel: weight loads are uniform across the
// workgroup (broadcast), input loads are neighbouring pixels (coalesced). A stem has
// C_in = 3, so each output is only C_in·KH·KW = 27 multiply-adds and the op is bound by
// writing its output; a tiled GEMM (im2col) would not pay off here. Everything is a uniform,
// so one pipeline serves every shape.
// Accumulation order is the reference's: bias, input channels, kernel rows, kernel columns.

struct Params {
    c_in: u32,
    h: u32,         // input plane
    w: u32,
    oh: u32,        // output plane
    ow: u32,
    kh: u32,        // kernel
    kw: u32,
    sh: u32,        // stride
    sw: u32,
    dil_h: u32,     // dilation
    dil_w: u32,
    pad_top: u32,
    pad_left: u32,
    lo: f32,        // clamp (fused ReLU / ReLU6; ±inf for none)
    hi: f32,
    c_out: u32,
}

@group(0) @binding(0) var<uniform> p: Params;                  // Params (above): this step's sizes
@group(0) @binding(1) var<storage, read> x: array<f32>;        // x (C_in, H, W)
@group(0) @binding(2) var<storage, read> wts: array<f32>;      // w (C_out, C_in, KH, KW) | bias (C_out)
@group(0) @binding(3) var<storage, read_write> y: array<f32>;  // y (C_out, OH, OW)

@compute @workgroup_size(64, 1, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let co = wg.z;
    let i = (wg.y * nwg.x + wg.x) * 64u + lid.x;
    let plane = p.oh * p.ow;
    if i >= plane {
        return;
    }
    let oy = i / p.ow;
    let ox = i % p.ow;
    let taps = p.kh * p.kw;
    var acc = wts[p.c_out * p.c_in * taps + co];
    for (var ci = 0u; ci < p.c_in; ci++) {
        let x0 = ci * p.h * p.w;
        let w0 = (co * p.c_in + ci) * taps;
        for (var ky = 0u; ky < p.kh; ky++) {
            // Unsigned wrap-around: a row above the image becomes huge and fails `< h`.
            let iy = oy * p.sh + ky * p.dil_h - p.pad_top;
            if iy >= p.h {
                continue;
            }
            for (var kx = 0u; kx < p.kw; kx++) {
                let ix = ox * p.sw + kx * p.dil_w - p.pad_left;
                if ix >= p.w {
                    continue;
                }
                acc += wts[w0 + ky * p.kw + kx] * x[x0 + iy * p.w + ix];
            }
        }
    }
    y[co * plane + i] = min(max(acc, p.lo), p.hi);
}
