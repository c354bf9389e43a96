// The nonzero list of one activation vector, for the column-skipping GEMV (llm_col.wgsl):
//   x (n,) at x_off -> nz (n + 1,): nz[0] = count, nz[1 ..] = the nonzero indices, ascending.
//
// One workgroup of 256: invocation i owns the consecutive chunk i·⌈n/256⌉ .., counts its
// nonzeros, one invocation turns the 256 counts into offsets (256 adds: cheaper than a
// log-step scan's 8 barriers on SwiftShader), and each invocation writes its chunk's indices
// at its offset, so the list comes out in order with two barriers.

struct Params {
    x_off: u32,  // x starts at x_off
    n: u32,      // entries
    pad0: u32,
    pad1: u32,
    pad2: u32,
    pad3: u32,
    pad4: u32,
    pad5: u32,
    pad6: u32,
    pad7: u32,
    pad8: u32,
    pad9: u32,
    pad10: u32,
    pad11: u32,
    pad12: u32,
    pad13: u32,
}

struct State {
    pos0: u32,
    t: u32,
    top_k: u32,
    temperature: f32,
    pad: vec4<u32>,
}

@group(0) @binding(0) var<uniform> p: Params;                   // Params (above)
@group(0) @binding(1) var<uniform> st: State;                   // State (not needed: one token's x)
@group(0) @binding(2) var<storage, read> x: array<f32>;         // x (n,) at x_off
@group(0) @binding(3) var<storage, read_write> nz: array<u32>;  // nz (n + 1,): count, indices

const WG: u32 = 256u;

var<workgroup> offs: array<u32, 256>;  // nonzeros per chunk, then where each chunk's go

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(local_invocation_index) li: u32) {
    // every binding is used (pipelines take their layout from the shader)
    _ = st.t;
    let chunk = (p.n + WG - 1u) / WG;
    let c0 = min(li * chunk, p.n);
    let c1 = min(c0 + chunk, p.n);
    var cnt = 0u;
    for (var c = c0; c < c1; c++) {
        cnt += u32(x[p.x_off + c] != 0.0);
    }
    offs[li] = cnt;
    workgroupBarrier();
    if li == 0u {
        var s = 0u;
        for (var i = 0u; i < WG; i++) {
            let v = offs[i];
            offs[i] = s;
            s += v;
        }
        nz[0] = s;
    }
    workgroupBarrier();
    var o = 1u + offs[li];
    for (var c = c0; c < c1; c++) {
        if x[p.x_off + c] != 0.0 {
            nz[o] = c;
            o++;
        }
    }
}
