// RoPE on the call's queries (in place) and keys, and the keys and values into this layer's
// KV cache at rows pos0 + i. GGUF's adjacent-pair order: in each head, (x[2j], x[2j+1]) is
// rotated by the angle of pair j for j < rope_dim / 2; dims past rope_dim pass through.
//
// One invocation per pair slot of a head (two dims), over the heads of q, then k, then v
// (v is only copied), so the in-place rotation of q never races: a pair is read and written
// by the same invocation. Workgroups along y are the call's tokens.

struct Params {
    n_heads: u32,
    n_kv: u32,
    hd: u32,        // head_dim
    rope_half: u32, // rope_dim / 2
    ctx: u32,
}

struct State { pos0: u32, t: u32, top_k: u32, temperature: f32, pad: vec4<u32> }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<uniform> st: State;
@group(0) @binding(2) var<storage, read_write> q: array<f32>;  // q (t, n_heads·hd), rotated in place
@group(0) @binding(3) var<storage, read> k: array<f32>;        // k (t, n_kv·hd)
@group(0) @binding(4) var<storage, read> v: array<f32>;        // v (t, n_kv·hd)
@group(0) @binding(5) var<storage, read> rope: array<f32>;     // rope (ctx, rope_dim/2, 2): cos, sin
@group(0) @binding(6) var<storage, read_write> kc: array<f32>; // K cache (ctx, n_kv·hd)
@group(0) @binding(7) var<storage, read_write> vc: array<f32>; // V cache (ctx, n_kv·hd)

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let i = wid.y;
    let pos = st.pos0 + i;
    let hp = (p.hd + 1u) / 2u; // pair slots per head (an odd head_dim ends in a single)
    let slot = gid.x;
    if slot >= (p.n_heads + 2u * p.n_kv) * hp || pos >= p.ctx {
        return;
    }
    let head = slot / hp;
    let j = slot % hp;
    let d0 = 2u * j;
    let two = d0 + 1u < p.hd; // the pair's second dim exists
    let kvd = p.n_kv * p.hd;
    var c = 1.0;
    var s = 0.0;
    let rot = j < p.rope_half;
    if rot {
        let r = (pos * p.rope_half + j) * 2u;
        c = rope[r];
        s = rope[r + 1u];
    }
    if head < p.n_heads {
        let b = i * p.n_heads * p.hd + head * p.hd + d0;
        if rot {
            let a = q[b];
            let bb = q[b + 1u];
            q[b] = a * c - bb * s;
            q[b + 1u] = a * s + bb * c;
        }
        return;
    }
    let kh = head - p.n_heads;
    if kh < p.n_kv {
        let b = i * kvd + kh * p.hd + d0;
        let o = pos * kvd + kh * p.hd + d0;
        let a = k[b];
        if rot {
            let bb = k[b + 1u];
            kc[o] = a * c - bb * s;
            kc[o + 1u] = a * s + bb * c;
        } else {
            kc[o] = a;
            if two {
                kc[o + 1u] = k[b + 1u];
            }
        }
        return;
    }
    let vh = kh - p.n_kv;
    let b = i * kvd + vh * p.hd + d0;
    let o = pos * kvd + vh * p.hd + d0;
    vc[o] = v[b];
    if two {
        vc[o + 1u] = v[b + 1u];
    }
}
