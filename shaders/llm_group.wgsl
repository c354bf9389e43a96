// A group-sparse LLM linear layer (g16i4, g8i4, g16i8, g8i8: per row, the kept groups of G
// consecutive input columns), decoded in registers:
//   Y (t, rows) = X (t, cols) @ Wᵀ   (t = 1: decode GEMV; t ≤ 16: prefill GEMM)
//
// One buffer holds the part's arrays at 4-byte-aligned word offsets (a shader binds at most 8
// storage buffers, and the session binds one per part):
//   row_ptr (rows + 1) u32 at 0, rebased to the part's first group;
//   col (ng) u16 at col_off: the group covering columns col·G .. col·G + G;
//   dm (ng) u32 at dm_off: f16 d | f16 m << 16 (m = 0 for int8), so one load gives both;
//   q (ng, G·BITS/32) u32 at q_off: int4 byte j = weight j (low nibble), j + G/2 (high),
//   w = q·d + m; int8 w = i8·d.
// Only kept groups are read, so work follows the kept weights: at 50% sparsity half the
// dense work. Split as llm_dense.wgsl: LANES invocations per row take its groups
// round-robin, each group is decoded once per tile of TT tokens, partial sums meet in
// workgroup memory (one barrier per token tile).

struct Params {
    rows: u32,      // rows of this part
    cols: u32,      // input columns
    x_off: u32,     // X: token tok starts at x_off + tok·x_stride
    x_stride: u32,
    y_off: u32,     // Y: y[y_off + tok·y_stride + r], r counted from the part's first row
    y_stride: u32,
    acc: u32,       // 1: y += W·x, 0: y = W·x
    tokens: u32,    // 0: the call's st.t; n: exactly n
    col_off: u32,   // word offsets of the arrays in w
    dm_off: u32,
    q_off: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
    pad3: u32,
    pad4: u32,
}

struct State {
    pos0: u32,
    t: u32,
    top_k: u32,
    temperature: f32,
    pad: vec4<u32>,
}

// columns per group: 8 or 16
override G: u32 = 16u;
// bits per value: 4 or 8
override BITS: u32 = 4u;
// invocations per row (a power of two, 4..64)
override LANES: u32 = 8u;

@group(0) @binding(0) var<uniform> p: Params;                  // Params (above)
@group(0) @binding(1) var<uniform> st: State;                  // State (t: tokens of the call)
@group(0) @binding(2) var<storage, read> x: array<f32>;        // X (t, cols) at x_off, stride x_stride
@group(0) @binding(3) var<storage, read> w: array<u32>;        // row_ptr (rows+1) | col (ng) u16 | dm (ng) | q (ng, G·BITS/32)
@group(0) @binding(4) var<storage, read_write> y: array<f32>;  // Y (t, y_stride) at y_off

const WG: u32 = 64u;
const TT: u32 = 8u;  // tokens per decoded group

var<workgroup> red: array<f32, 512>;  // partial sums (TT, WG)

fn nibbles(q: u32, s: u32) -> vec4<f32> {
    return vec4<f32>((vec4<u32>(q) >> vec4<u32>(s, s + 8u, s + 16u, s + 24u)) & vec4<u32>(15u));
}

fn sbytes(q: u32) -> vec4<f32> {
    let v = bitcast<vec4<i32>>(vec4<u32>(q) << vec4<u32>(24u, 16u, 8u, 0u));
    return vec4<f32>(v >> vec4<u32>(24u));
}

// Kept group k's G weights, in column order (G/4 vectors).
fn decode(k: u32) -> array<vec4<f32>, 4> {
    var o: array<vec4<f32>, 4>;
    let dm = unpack2x16float(w[p.dm_off + k]);
    let nw = G * BITS / 32u;
    let q0 = p.q_off + k * nw;
    if BITS == 4u {
        for (var i = 0u; i < nw; i++) {
            let q = w[q0 + i];
            o[i] = nibbles(q, 0u) * dm.x + dm.y;
            o[nw + i] = nibbles(q, 4u) * dm.x + dm.y;
        }
    } else {
        for (var i = 0u; i < nw; i++) {
            o[i] = sbytes(w[q0 + i]) * dm.x;
        }
    }
    return o;
}

@compute @workgroup_size(64, 1, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let rpw = WG / LANES;
    let lane = li % LANES;
    let rr = li / LANES;
    let base = (wg.y * 65535u + wg.x) * rpw;
    let r = base + rr;
    let live = r < p.rows;
    var k0 = 0u;
    var k1 = 0u;
    if live {
        k0 = w[r];
        k1 = w[r + 1u];
    }
    let t = select(p.tokens, st.t, p.tokens == 0u);
    for (var t0 = 0u; t0 < t; t0 += TT) {
        let tn = min(TT, t - t0);
        var acc: array<f32, 8>;
        for (var k = k0 + lane; k < k1; k += LANES) {
            let v = decode(k);
            let cw = w[p.col_off + (k >> 1u)];
            let c = ((cw >> ((k & 1u) * 16u)) & 0xffffu) * G;
            for (var tk = 0u; tk < tn; tk++) {
                let e = p.x_off + (t0 + tk) * p.x_stride + c;
                var s = vec4<f32>(0.0);
                for (var i = 0u; i < G / 4u; i++) {
                    let xi = e + 4u * i;
                    s += v[i] * vec4<f32>(x[xi], x[xi + 1u], x[xi + 2u], x[xi + 3u]);
                }
                acc[tk] += (s.x + s.y) + (s.z + s.w);
            }
        }
        for (var k = 0u; k < tn; k++) {
            red[k * WG + li] = acc[k];
        }
        workgroupBarrier();
        for (var o = li; o < rpw * tn; o += WG) {
            let orow = o % rpw;
            let k = o / rpw;
            if base + orow < p.rows {
                var s = 0.0;
                let at = k * WG + orow * LANES;
                for (var l = 0u; l < LANES; l++) {
                    s += red[at + l];
                }
                let yi = p.y_off + (t0 + k) * p.y_stride + base + orow;
                if p.acc != 0u {
                    s += y[yi];
                }
                y[yi] = s;
            }
        }
        if t0 + TT < t {
            workgroupBarrier();
        }
    }
}
