// SwiGLU's product and the thresholds around it, elementwise over the call's (t, ffn):
// MODE 0: g ← silu(g) ⊙ up, first dropping channels with |silu(g)| < gate_t (the gate
//         method; 0 = off), then the W_down input's threshold on the product;
// MODE 1: a threshold alone on g (the WINA case of `threshold`: `up` is bound to the scales).
// One invocation per element; workgroups along y are the call's tokens.

override MODE: u32 = 0u;
override THRESH: u32 = 0u; // 0 none, 1 |v| < thr, 2 |v|·scale < thr

struct Params {
    n: u32,       // row length (ffn)
    gate_t: f32,  // |silu(gate)| threshold, 0 = off
    thr: f32,     // threshold on the result (THRESH > 0)
    pad: u32,
}

struct State { pos0: u32, t: u32, top_k: u32, temperature: f32, pad: vec4<u32> }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<uniform> st: State;
@group(0) @binding(2) var<storage, read_write> g: array<f32>; // gate (t, n) -> result (t, n)
@group(0) @binding(3) var<storage, read> up: array<f32>;      // up (t, n) (MODE 1: scales)
@group(0) @binding(4) var<storage, read> sc: array<f32>;      // scales (n,) (WINA; else up again)

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let j = gid.x;
    if j >= p.n || wid.y >= st.t {
        return;
    }
    let e = wid.y * p.n + j;
    var v = g[e];
    if MODE == 0u {
        let s = v / (1.0 + exp(-v));
        if p.gate_t > 0.0 && abs(s) < p.gate_t {
            v = 0.0;
        } else {
            v = s * up[e];
        }
    }
    if THRESH == 1u && abs(v) < p.thr {
        v = 0.0;
    }
    if THRESH == 2u && abs(v) * sc[j] < p.thr {
        v = 0.0;
    }
    g[e] = v;
}
