// A dense LLM linear layer over the GGUF file's own blocks (F32, F16, Q4_0, Q4_1, Q8_0),
// decoded in registers:
//   MODE 0: Y (t, rows) = X (t, cols) @ Wᵀ   (t = 1: the decode GEMV; t ≤ 16: prefill GEMM)
//   MODE 1: E (t, cols) = W[tokens[tok], :]  (the token-embedding gather)
//
// The weights stay as the file stores them, so no load-time conversion and no second copy:
// quant blocks are 18 / 20 / 34 bytes, at 2-byte alignment only, so a block is read as the
// aligned words around it and its halves and bytes are shifted out of them.
//
// Work decomposition (MODE 0). A workgroup of 64 covers RPW = 64 / LANES rows; the LANES
// invocations of a row split its 32-weight units (blocks) round-robin, so consecutive lanes
// read consecutive blocks. Each unit is decoded once into 32 registers and then applied to a
// tile of up to TT tokens (the GEMM's reuse); the lanes' partial sums meet in workgroup
// memory (no float atomics in WebGPU), one barrier per token tile. LANES is chosen per matrix
// so each lane gets about 4 units (RowSplit::Spread, for GPUs). On a CPU adapter LANES = 1
// (RowSplit::PerRow): SwiftShader and lavapipe run invocations as the SIMD lanes of a thread,
// so a row spread over lanes only adds the reduction; one row per invocation writes its sums
// directly, without workgroup memory or a barrier.

struct Params {
    rows: u32,      // rows of this part
    cols: u32,      // weights per row
    x_off: u32,     // X: token tok starts at x_off + tok·x_stride
    x_stride: u32,
    y_off: u32,     // Y: y[y_off + tok·y_stride + r], r counted from the part's first row
    y_stride: u32,
    acc: u32,       // 1: y += W·x (residual adds), 0: y = W·x
    tokens: u32,    // 0: the call's st.t; n: exactly n (the LM head runs one)
    units: u32,     // 32-weight units per row (the last one partial for F32 / F16)
    row_bytes: u32, // bytes of one row
    row0: u32,      // gather: the part's first row in the whole matrix
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

// 0 F32, 1 F16, 2 Q4_0, 3 Q4_1, 4 Q8_0
override FMT: u32 = 2u;
// 0: linear (GEMV / GEMM), 1: gather rows
override MODE: u32 = 0u;
// invocations per row: 1 (RowSplit::PerRow, CPU adapters), or a power of two 4..64
override LANES: u32 = 8u;
// 1: a quant format with x_off and x_stride multiples of 4, so every block's inputs are whole
// vec4s: one load where SwiftShader gathers four
override X4: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;                  // Params (above)
@group(0) @binding(1) var<uniform> st: State;                  // State (t: tokens of the call)
@group(0) @binding(2) var<storage, read> xs: array<vec4<u32>>; // X (t, cols) f32 bits at x_off | tokens (t,) u32 (gather); whole vec4s
@group(0) @binding(3) var<storage, read> w: array<u32>;        // W (rows, row_bytes) GGUF blocks, the part's rows
@group(0) @binding(4) var<storage, read_write> y: array<f32>;  // Y (t, y_stride) at y_off | E (t, cols) (gather)

const WG: u32 = 64u;
const TT: u32 = 8u;  // tokens per decoded unit

var<workgroup> red: array<f32, 512>;  // partial sums (TT, WG)

// The f16 at byte b (even).
fn half_at(b: u32) -> f32 {
    let h = unpack2x16float(w[b >> 2u]);
    return select(h.x, h.y, (b & 2u) != 0u);
}

// Four aligned words starting at byte b (even): a funnel shift of five when b is 2 mod 4.
fn quad_at(b: u32) -> vec4<u32> {
    let i = b >> 2u;
    let lo = vec4<u32>(w[i], w[i + 1u], w[i + 2u], w[i + 3u]);
    if (b & 2u) == 0u {
        return lo;
    }
    let hi = vec4<u32>(lo.yzw, w[i + 4u]);
    return (lo >> vec4<u32>(16u)) | (hi << vec4<u32>(16u));
}

// Nibbles s, s + 8, s + 16, s + 24 of q (s = 0: the low nibbles of its four bytes).
fn nibbles(q: u32, s: u32) -> vec4<f32> {
    return vec4<f32>((vec4<u32>(q) >> vec4<u32>(s, s + 8u, s + 16u, s + 24u)) & vec4<u32>(15u));
}

// The four bytes of q as signed 8-bit values.
fn sbytes(q: u32) -> vec4<f32> {
    let v = bitcast<vec4<i32>>(vec4<u32>(q) << vec4<u32>(24u, 16u, 8u, 0u));
    return vec4<f32>(v >> vec4<u32>(24u));
}

// Weight c of local row r, F32 or F16 (0 past the row's end).
fn scalar_weight(r: u32, c: u32) -> f32 {
    if c >= p.cols {
        return 0.0;
    }
    let e = r * p.cols + c;
    if FMT == 0u {
        return bitcast<f32>(w[e]);
    }
    return half_at(2u * e);
}

fn scalar4(r: u32, c: u32) -> vec4<f32> {
    return vec4<f32>(scalar_weight(r, c), scalar_weight(r, c + 1u),
                     scalar_weight(r, c + 2u), scalar_weight(r, c + 3u));
}

// 32 weights in order. Named members, not an array: SwiftShader keeps a private array that is
// indexed in a loop in memory, per lane.
struct W32 {
    w0: vec4<f32>,
    w1: vec4<f32>,
    w2: vec4<f32>,
    w3: vec4<f32>,
    w4: vec4<f32>,
    w5: vec4<f32>,
    w6: vec4<f32>,
    w7: vec4<f32>,
}

// Unit u (weights 32u .. 32u + 32) of local row r.
fn decode(r: u32, u: u32) -> W32 {
    if FMT < 2u {
        let c = 32u * u;
        return W32(scalar4(r, c), scalar4(r, c + 4u), scalar4(r, c + 8u), scalar4(r, c + 12u),
                   scalar4(r, c + 16u), scalar4(r, c + 20u), scalar4(r, c + 24u),
                   scalar4(r, c + 28u));
    }
    let bs = select(select(34u, 20u, FMT == 3u), 18u, FMT == 2u);
    let b = r * p.row_bytes + u * bs;
    let d = half_at(b);
    if FMT == 4u {
        // Q8_0: f16 d, 32 i8; w = q·d
        let q0 = quad_at(b + 2u);
        let q1 = quad_at(b + 18u);
        return W32(sbytes(q0.x) * d, sbytes(q0.y) * d, sbytes(q0.z) * d, sbytes(q0.w) * d,
                   sbytes(q1.x) * d, sbytes(q1.y) * d, sbytes(q1.z) * d, sbytes(q1.w) * d);
    }
    // Q4_0: f16 d, 16 bytes, w = q·d − 8d; Q4_1: f16 d, f16 m, 16 bytes, w = q·d + m.
    // Byte j holds weight j (low nibble) and weight j + 16 (high).
    var m = -8.0 * d;
    var qb = b + 2u;
    if FMT == 3u {
        m = half_at(b + 2u);
        qb = b + 4u;
    }
    let q = quad_at(qb);
    return W32(nibbles(q.x, 0u) * d + m, nibbles(q.y, 0u) * d + m,
               nibbles(q.z, 0u) * d + m, nibbles(q.w, 0u) * d + m,
               nibbles(q.x, 4u) * d + m, nibbles(q.y, 4u) * d + m,
               nibbles(q.z, 4u) * d + m, nibbles(q.w, 4u) * d + m);
}

// X[c .. c + 4] from element index e (F32 / F16 rows may end inside a unit: clamped to the
// row's last column `last`, whose weight there is 0).
fn x1(i: u32) -> u32 {
    return xs[i >> 2u][i & 3u];
}

fn x4(e: u32, c: u32, last: u32) -> vec4<f32> {
    if X4 == 1u {
        return bitcast<vec4<f32>>(xs[e >> 2u]);
    }
    if FMT < 2u {
        let k = vec4<u32>(min(c, last), min(c + 1u, last), min(c + 2u, last), min(c + 3u, last)) - vec4<u32>(c);
        return vec4<f32>(bitcast<f32>(x1(e + k.x)), bitcast<f32>(x1(e + k.y)),
                         bitcast<f32>(x1(e + k.z)), bitcast<f32>(x1(e + k.w)));
    }
    return vec4<f32>(bitcast<f32>(x1(e)), bitcast<f32>(x1(e + 1u)),
                     bitcast<f32>(x1(e + 2u)), bitcast<f32>(x1(e + 3u)));
}

// Σ v · X[c .. c + 32], X of one token from element e.
fn dot32(v: W32, e: u32, c: u32, last: u32) -> f32 {
    let s = v.w0 * x4(e, c, last) + v.w1 * x4(e + 4u, c + 4u, last)
          + v.w2 * x4(e + 8u, c + 8u, last) + v.w3 * x4(e + 12u, c + 12u, last)
          + v.w4 * x4(e + 16u, c + 16u, last) + v.w5 * x4(e + 20u, c + 20u, last)
          + v.w6 * x4(e + 24u, c + 24u, last) + v.w7 * x4(e + 28u, c + 28u, last);
    return (s.x + s.y) + (s.z + s.w);
}

fn store(e: u32, v: vec4<f32>, c: u32) {
    for (var i = 0u; i < 4u; i++) {
        if c + i < p.cols {
            y[e + i] = v[i];
        }
    }
}

fn gather(tok: u32, li: u32) {
    let row = x1(tok);
    if row < p.row0 || row - p.row0 >= p.rows {
        return;
    }
    let r = row - p.row0;
    for (var u = li; u < p.units; u += WG) {
        let v = decode(r, u);
        let c = 32u * u;
        let e = tok * p.cols + c;
        store(e, v.w0, c);
        store(e + 4u, v.w1, c + 4u);
        store(e + 8u, v.w2, c + 8u);
        store(e + 12u, v.w3, c + 12u);
        store(e + 16u, v.w4, c + 16u);
        store(e + 20u, v.w5, c + 20u);
        store(e + 24u, v.w6, c + 24u);
        store(e + 28u, v.w7, c + 28u);
    }
}

@compute @workgroup_size(64, 1, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    if MODE == 1u {
        gather(wg.x, li);
        return;
    }
    let rpw = WG / LANES;
    let lane = li % LANES;
    let rr = li / LANES;
    let base = (wg.y * 65535u + wg.x) * rpw;
    let r = base + rr;
    let live = r < p.rows;
    let t = select(p.tokens, st.t, p.tokens == 0u);
    let last = p.cols - 1u;
    for (var t0 = 0u; t0 < t; t0 += TT) {
        let tn = min(TT, t - t0);
        // per-token sums: a loop, not a chain of ifs (SwiftShader runs both sides of an if
        // under a lane mask, so untaken tokens would cost as much as taken ones)
        var acc: array<f32, 8>;
        for (var k = 0u; k < TT; k++) {
            acc[k] = 0.0;
        }
        if live {
            let xt = p.x_off + t0 * p.x_stride;
            for (var u = lane; u < p.units; u += LANES) {
                let v = decode(r, u);
                let c = 32u * u;
                for (var k = 0u; k < tn; k++) {
                    acc[k] += dot32(v, xt + k * p.x_stride + c, c, last);
                }
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
