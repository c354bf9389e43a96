// A group-sparse LLM linear layer (g16i4, g8i4, g16i8, g8i8: per row, the kept groups of G
// consecutive input columns), decoded in registers:
//   Y (t, rows) = X (t, cols) @ Wᵀ   (t = 1: decode GEMV; t ≤ 16: prefill GEMM)
//
// One buffer holds the part (a shader binds at most 8 storage buffers, and the session binds
// one per part):
//   row_ptr (rows + 1) u32 at 0, rebased to the part's first group, padded to 16 bytes;
//   then one record of RV = ⌈(2 + G·BITS/32) / 4⌉ vec4<u32> per kept group, from vec4 rec_off:
//   its first column col·G, f16 d | f16 m << 16 (m = 0 for int8), its G·BITS/32 value words
//   (int4 byte j = weight j (low nibble), j + G/2 (high), w = q·d + m; int8 w = i8·d).
// The file keeps column, scales and values in separate arrays; interleaved, a group is one
// 16-byte load (two for g16i8) where SwiftShader would gather four scattered words.
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
    rec_off: u32,   // vec4 offset of the group records in w
    pad5: u32,
    pad6: u32,
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
// invocations per row: 1 (RowSplit::PerRow, CPU adapters), or a power of two 4..64
override LANES: u32 = 8u;
// 1: x_off and x_stride are multiples of 4, so every group's inputs are whole vec4s (a group
// starts at a multiple of 8): one load where SwiftShader gathers four
override X4: u32 = 1u;

@group(0) @binding(0) var<uniform> p: Params;                  // Params (above)
@group(0) @binding(1) var<uniform> st: State;                  // State (t: tokens of the call)
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;  // X (t, cols) f32 at x_off, stride x_stride (bound in whole vec4s)
@group(0) @binding(3) var<storage, read> w: array<vec4<u32>>;  // row_ptr (rows + 1) u32 | records (ng, RV) vec4
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

// A group's weights in column order (G = 8 uses w0, w1). Named members, not an array: see
// llm_dense.wgsl's W32.
struct W16 {
    w0: vec4<f32>,
    w1: vec4<f32>,
    w2: vec4<f32>,
    w3: vec4<f32>,
}

// vec4s per group record: ⌈(2 + G·BITS/32) / 4⌉, i.e. 2 for g16i8, else 1
fn rv() -> u32 {
    return select(1u, 2u, G * BITS > 64u);
}

// Word i of the buffer (row_ptr).
fn word(i: u32) -> u32 {
    return w[i >> 2u][i & 3u];
}

// The G weights of the group whose record starts with `a` (at vec4 index `at`).
fn decode(a: vec4<u32>, at: u32) -> W16 {
    let dm = unpack2x16float(a.y);
    let z = vec4<f32>(0.0);
    if BITS == 4u {
        if G == 8u {
            return W16(nibbles(a.z, 0u) * dm.x + dm.y, nibbles(a.z, 4u) * dm.x + dm.y, z, z);
        }
        return W16(nibbles(a.z, 0u) * dm.x + dm.y, nibbles(a.w, 0u) * dm.x + dm.y,
                   nibbles(a.z, 4u) * dm.x + dm.y, nibbles(a.w, 4u) * dm.x + dm.y);
    }
    let v0 = sbytes(a.z) * dm.x;
    let v1 = sbytes(a.w) * dm.x;
    if G == 8u {
        return W16(v0, v1, z, z);
    }
    let b = w[at + 1u];
    return W16(v0, v1, sbytes(b.x) * dm.x, sbytes(b.y) * dm.x);
}

fn x1(i: u32) -> f32 {
    return x[i >> 2u][i & 3u];
}

// X[e .. e + 4] (e a multiple of 4 when X4 = 1).
fn x4(e: u32) -> vec4<f32> {
    if X4 == 1u {
        return x[e >> 2u];
    }
    return vec4<f32>(x1(e), x1(e + 1u), x1(e + 2u), x1(e + 3u));
}

// Σ v · X[e .. e + G].
fn dot16(v: W16, e: u32) -> f32 {
    var s = v.w0 * x4(e) + v.w1 * x4(e + 4u);
    if G == 16u {
        s += v.w2 * x4(e + 8u) + v.w3 * x4(e + 12u);
    }
    return (s.x + s.y) + (s.z + s.w);
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
        k0 = word(r);
        k1 = word(r + 1u);
    }
    let t = select(p.tokens, st.t, p.tokens == 0u);
    for (var t0 = 0u; t0 < t; t0 += TT) {
        let tn = min(TT, t - t0);
        // per-token sums: a loop, not a chain of ifs (SwiftShader runs both sides of an if
        // under a lane mask, so untaken tokens would cost as much as taken ones)
        var acc: array<f32, 8>;
        for (var k = 0u; k < TT; k++) {
            acc[k] = 0.0;
        }
        let xt = p.x_off + t0 * p.x_stride;
        for (var k = k0 + lane; k < k1; k += LANES) {
            let at = p.rec_off + k * rv();
            let a = w[at];
            let v = decode(a, at);
            let e = xt + a.x;
            for (var tk = 0u; tk < tn; tk++) {
                acc[tk] += dot16(v, e + tk * p.x_stride);
            }
        }
        if LANES == 1u {
            // one invocation per row: its sums are whole, so no reduction and no barrier
            if live {
                for (var k = 0u; k < tn; k++) {
                    let yi = p.y_off + (t0 + k) * p.y_stride + r;
                    var s = acc[k];
                    if p.acc != 0u {
                        s += y[yi];
                    }
                    y[yi] = s;
                }
            }
            continue;
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
