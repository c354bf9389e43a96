// Dense 1x1 convolution / fully connected layer, CHW, batch 1, as a tiled GEMM:
//   Y (m, n) = clamp(W (m, k) @ X (k, n) + b (m), lo, hi)        n = H·W pixels (1 for FC)
//
// Work decomposition. A workgroup of 16×16 invocations computes a 64×64 tile of Y (64 output
// channels × 64 pixels); each invocation owns a 4×4 block of it, rows lid.y + 16·i and
// columns lid.x + 16·j, so stores are consecutive across lid.x (coalesced). The k dimension
// is walked 16 at a time: the workgroup stages a 64×16 tile of W and a 16×64 tile of X in
// workgroup memory (2 × 4 KiB, within the 16 KiB default), 4 elements per invocation, with
// consecutive invocations loading consecutive addresses. Every staged value is then read 4
// times per invocation from workgroup memory instead of global memory: that on-chip reuse is
// what the sparse kernel (spmm.wgsl) gives up to skip zeros.
// Accumulation order is the reference's: bias, then input channels ascending.

struct Params {
    m: u32,   // output channels
    k: u32,   // input channels
    n: u32,   // pixels per channel
    lo: f32,  // clamp (fused ReLU / ReLU6; ±inf for none)
    hi: f32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;                  // Params (above): this step's sizes
@group(0) @binding(1) var<storage, read> x: array<f32>;        // X (k, n)
@group(0) @binding(2) var<storage, read> wts: array<f32>;      // W (m, k) | bias (m)
@group(0) @binding(3) var<storage, read_write> y: array<f32>;  // Y (m, n)

const BM: u32 = 64u;  // tile rows (output channels)
const BN: u32 = 64u;  // tile columns (pixels)
const BK: u32 = 16u;  // input channels per step

var<workgroup> wtile: array<f32, 1024>;  // W tile (BK, BM): wtile[kk · BM + r]
var<workgroup> xtile: array<f32, 1024>;  // X tile (BK, BN): xtile[kk · BN + c]

@compute @workgroup_size(16, 16, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let row0 = wg.y * BM;
    let col0 = wg.x * BN;
    let bias_off = p.m * p.k;
    var acc: array<vec4<f32>, 4>;
    for (var i = 0u; i < 4u; i++) {
        let r = row0 + lid.y + 16u * i;
        acc[i] = vec4<f32>(wts[bias_off + min(r, p.m - 1u)]);
    }
    for (var k0 = 0u; k0 < p.k; k0 += BK) {
        for (var t = 0u; t < 4u; t++) {
            let e = li + 256u * t;
            // W element (r, kk): 16 consecutive invocations read 16 consecutive k of one row.
            let r = e / BK;
            let kk = e % BK;
            let wr = row0 + r;
            let wk = k0 + kk;
            let w_ok = wr < p.m && wk < p.k;
            wtile[kk * BM + r] = select(0.0, wts[select(0u, wr * p.k + wk, w_ok)], w_ok);
            // X element (kk, c): 64 consecutive invocations read 64 consecutive pixels.
            let xk = k0 + e / BN;
            let xc = col0 + e % BN;
            let x_ok = xk < p.k && xc < p.n;
            xtile[e] = select(0.0, x[select(0u, xk * p.n + xc, x_ok)], x_ok);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk++) {
            let xb = kk * BN + lid.x;
            let xv = vec4<f32>(xtile[xb], xtile[xb + 16u], xtile[xb + 32u], xtile[xb + 48u]);
            for (var i = 0u; i < 4u; i++) {
                acc[i] += wtile[kk * BM + lid.y + 16u * i] * xv;
            }
        }
        workgroupBarrier();
    }
    for (var i = 0u; i < 4u; i++) {
        let r = row0 + lid.y + 16u * i;
        if r >= p.m {
            break;
        }
        let v = min(max(acc[i], vec4<f32>(p.lo)), vec4<f32>(p.hi));
        for (var j = 0u; j < 4u; j++) {
            let c = col0 + lid.x + 16u * j;
            if c < p.n {
                y[r * p.n + c] = v[j];
            }
        }
    }
}
