// TEAL's threshold alone on x (t, n) in place: |x| < thr → 0 (the attention output's site).
// Its own file because it binds nothing but x: the WINA variant needs a scales buffer and
// runs on llm_swiglu.wgsl's MODE 1. One invocation per element; y workgroups are tokens.

struct Params {
    n: u32,   // row length
    thr: f32, // threshold
}

struct State { pos0: u32, t: u32, top_k: u32, temperature: f32, pad: vec4<u32> }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<uniform> st: State;
@group(0) @binding(2) var<storage, read_write> x: array<f32>; // x (t, n), in place

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let j = gid.x;
    if j >= p.n || wid.y >= st.t {
        return;
    }
    let e = wid.y * p.n + j;
    if abs(x[e]) < p.thr {
        x[e] = 0.0;
    }
}
