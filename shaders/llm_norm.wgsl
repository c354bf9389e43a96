// RMSNorm of each token's row, then the activation threshold of the linear layer it feeds:
// y = x / √(mean(x²) + eps) ⊙ w, entries with |y| < thr (TEAL) or |y|·scale < thr (WINA) → 0.
//
// One workgroup per token row. The CPU sums the squares in f64; WGSL has no f64, so each
// invocation sums its strided share in f32 and a tree in workgroup memory adds the 256
// partials (pairwise, so the error grows with log n, not n). `last_only` normalises the call's
// last token alone into row 0 (the final norm before the LM head: one row, not t).

override THRESH: u32 = 0u; // 0 none, 1 |y| < thr, 2 |y|·scale < thr

struct Params {
    n: u32,         // row length
    eps: f32,
    thr: f32,       // threshold (THRESH > 0)
    last_only: u32, // 1: row st.t − 1 only, into row 0
}

struct State { pos0: u32, t: u32, top_k: u32, temperature: f32, pad: vec4<u32> }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<uniform> st: State;
@group(0) @binding(2) var<storage, read> x: array<f32>;        // x (t, n)
@group(0) @binding(3) var<storage, read> w: array<f32>;        // w (n,)
@group(0) @binding(4) var<storage, read_write> y: array<f32>;  // y (t, n), or (1, n) last_only
@group(0) @binding(5) var<storage, read> sc: array<f32>;       // scales (n,) (WINA; else w again)

var<workgroup> red: array<f32, 256>;

fn keep(v: f32, j: u32) -> f32 {
    if THRESH == 1u && abs(v) < p.thr {
        return 0.0;
    }
    if THRESH == 2u && abs(v) * sc[j] < p.thr {
        return 0.0;
    }
    return v;
}

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let l = lid.x;
    var row = wid.x;
    var orow = wid.x;
    if p.last_only != 0u {
        row = st.t - 1u;
        orow = 0u;
    }
    let base = row * p.n;
    let obase = orow * p.n;
    var s = 0.0;
    for (var j = l; j < p.n; j += 256u) {
        let v = x[base + j];
        s += v * v;
    }
    red[l] = s;
    workgroupBarrier();
    for (var half = 128u; half > 0u; half >>= 1u) {
        if l < half {
            red[l] += red[l + half];
        }
        workgroupBarrier();
    }
    let inv = 1.0 / sqrt(red[0] / f32(p.n) + p.eps);
    for (var j = l; j < p.n; j += 256u) {
        y[obase + j] = keep(x[base + j] * inv * w[j], j);
    }
}
