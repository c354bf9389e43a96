// Grouped-query attention of the call's tokens over the KV cache: token i (position
// pos0 + i) and query head h read KV head h / (n_heads / n_kv) at cache rows 0..=pos0 + i:
// out = softmax(q_h · K_rowsᵀ · scale) @ V_rows.
//
// One workgroup per (head, token). The score row can be as long as the context (8192 and
// more), past what workgroup memory holds, so it lives in the `att` scratch in storage: each
// invocation scores a strided share of the rows, and after a tree max and a tree sum it turns
// its own scores into e^(s − max) in place (its own writes: no barrier). The weighted sum
// splits the rows among `parts` = WG / hd groups of hd invocations (one output dim each) whose
// partials a workgroup-memory add combines, so short heads still keep every invocation busy;
// the 1 / Σ is applied once at the end.

const WG: u32 = 128u;

struct Params {
    n_heads: u32,
    n_kv: u32,
    hd: u32,    // head_dim
    ctx: u32,   // cache rows
    scale: f32, // 1 / √hd
}

struct State { pos0: u32, t: u32, top_k: u32, temperature: f32, pad: vec4<u32> }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<uniform> st: State;
@group(0) @binding(2) var<storage, read> q: array<f32>;         // q (t, n_heads·hd)
@group(0) @binding(3) var<storage, read> kc: array<f32>;        // K cache (ctx, n_kv·hd)
@group(0) @binding(4) var<storage, read> vc: array<f32>;        // V cache (ctx, n_kv·hd)
@group(0) @binding(5) var<storage, read_write> att: array<f32>; // att scratch (16, n_heads, ctx)
@group(0) @binding(6) var<storage, read_write> out: array<f32>; // out (t, n_heads·hd)

const MAX_HD: u32 = 256u; // head_dim ≤ 256 (ops::MAX_HEAD_DIM)

var<workgroup> red: array<f32, WG>;
var<workgroup> qs: array<f32, MAX_HD>; // the head's query, read by every score

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let l = lid.x;
    let h = wid.x;
    let i = wid.y;
    let pos = st.pos0 + i;
    if pos >= p.ctx || i >= 16u {
        return; // refused on the CPU side; never read past the cache or the scratch
    }
    let n = pos + 1u;
    let hd = p.hd;
    let kvd = p.n_kv * hd;
    let kb = (h / (p.n_heads / p.n_kv)) * hd;
    let qb = i * p.n_heads * hd + h * hd;
    let ab = (i * p.n_heads + h) * p.ctx;

    for (var d = l; d < min(hd, MAX_HD); d += WG) {
        qs[d] = q[qb + d];
    }
    workgroupBarrier();
    var m = -3.0e38;
    for (var s = l; s < n; s += WG) {
        let kr = s * kvd + kb;
        var acc = 0.0;
        for (var d = 0u; d < hd; d++) {
            acc += qs[d] * kc[kr + d];
        }
        acc *= p.scale;
        att[ab + s] = acc;
        m = max(m, acc);
    }
    red[l] = m;
    workgroupBarrier();
    for (var half = WG / 2u; half > 0u; half >>= 1u) {
        if l < half {
            red[l] = max(red[l], red[l + half]);
        }
        workgroupBarrier();
    }
    let mx = red[0];
    workgroupBarrier();
    var sum = 0.0;
    for (var s = l; s < n; s += WG) {
        let e = exp(att[ab + s] - mx);
        att[ab + s] = e;
        sum += e;
    }
    red[l] = sum;
    workgroupBarrier();
    for (var half = WG / 2u; half > 0u; half >>= 1u) {
        if l < half {
            red[l] += red[l + half];
        }
        workgroupBarrier();
    }
    let inv = 1.0 / red[0];
    // the weights of every row, written by other invocations, must be visible
    storageBarrier();
    workgroupBarrier();
    if hd <= WG {
        let parts = WG / hd;
        let part = l / hd;
        let d = l % hd;
        var acc = 0.0;
        if part < parts {
            for (var s = part; s < n; s += parts) {
                acc += att[ab + s] * vc[s * kvd + kb + d];
            }
        }
        red[l] = acc;
        workgroupBarrier();
        if part == 0u {
            var o = 0.0;
            for (var r = 0u; r < parts; r++) {
                o += red[r * hd + d];
            }
            out[qb + d] = o * inv;
        }
    } else {
        for (var d = l; d < hd; d += WG) {
            var acc = 0.0;
            for (var s = 0u; s < n; s++) {
                acc += att[ab + s] * vc[s * kvd + kb + d];
            }
            out[qb + d] = acc * inv;
        }
    }
}
