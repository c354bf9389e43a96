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
// so each lane gets about 4 units: SwiftShader (a CPU) pays for every extra lane in the
// reduction, a real GPU would take more.

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
// invocations per row (a power of two, 4..64)
override LANES: u32 = 8u;

@group(0) @binding(0) var<uniform> p: Params;                  // Params (above)
@group(0) @binding(1) var<uniform> st: State;                  // State (t: tokens of the call)
@group(0) @binding(2) var<storage, read> xs: array<u32>;       // X (t, cols) f32 bits at x_off | tokens (t,) u32 (gather)
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

// Unit u (weights 32u .. 32u + 32) of local row r, in order.
fn decode(r: u32, u: u32) -> array<vec4<f32>, 8> {
    var o: array<vec4<f32>, 8>;
    if FMT < 2u {
        for (var j = 0u; j < 8u; j++) {
            let c = 32u * u + 4u * j;
            o[j] = vec4<f32>(scalar_weight(r, c), scalar_weight(r, c + 1u),
                             scalar_weight(r, c + 2u), scalar_weight(r, c + 3u));
        }
        return o;
    }
    let bs = select(select(34u, 20u, FMT == 3u), 18u, FMT == 2u);
    let b = r * p.row_bytes + u * bs;
    if FMT == 4u {
        // Q8_0: f16 d, 32 i8; w = q·d
        let d = half_at(b);
        let q0 = quad_at(b + 2u);
        let q1 = quad_at(b + 18u);
        for (var j = 0u; j < 4u; j++) {
            o[j] = sbytes(q0[j]) * d;
            o[4u + j] = sbytes(q1[j]) * d;
        }
        return o;
    }
    // Q4_0: f16 d, 16 bytes, w = q·d − 8d; Q4_1: f16 d, f16 m, 16 bytes, w = q·d + m.
    // Byte j holds weight j (low nibble) and weight j + 16 (high).
    let d = half_at(b);
    var m = -8.0 * d;
    var qb = b + 2u;
    if FMT == 3u {
        m = half_at(b + 2u);
        qb = b + 4u;
    }
    let q = quad_at(qb);
    for (var j = 0u; j < 4u; j++) {
        o[j] = nibbles(q[j], 0u) * d + m;
        o[4u + j] = nibbles(q[j], 4u) * d + m;
    }
    return o;
}

// X[c .. c + 4] from element index e (F32 / F16 rows may end inside a unit: clamped to the
// row's last column `last`, whose weight there is 0).
fn x4(e: u32, c: u32, last: u32) -> vec4<f32> {
    if FMT < 2u {
        let k = vec4<u32>(min(c, last), min(c + 1u, last), min(c + 2u, last), min(c + 3u, last)) - vec4<u32>(c);
        return vec4<f32>(bitcast<f32>(xs[e + k.x]), bitcast<f32>(xs[e + k.y]),
                         bitcast<f32>(xs[e + k.z]), bitcast<f32>(xs[e + k.w]));
    }
    return vec4<f32>(bitcast<f32>(xs[e]), bitcast<f32>(xs[e + 1u]),
                     bitcast<f32>(xs[e + 2u]), bitcast<f32>(xs[e + 3u]));
}

fn gather(tok: u32, li: u32) {
    let row = xs[tok];
    if row < p.row0 || row - p.row0 >= p.rows {
        return;
    }
    let r = row - p.row0;
    for (var u = li; u < p.units; u += WG) {
        let v = decode(r, u);
        for (var j = 0u; j < 8u; j++) {
            for (var i = 0u; i < 4u; i++) {
                let c = 32u * u + 4u * j + i;
                if c < p.cols {
                    y[tok * p.cols + c] = v[j][i];
                }
            }
        }
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
        var acc: array<f32, 8>;
        if live {
            for (var u = lane; u < p.units; u += LANES) {
                let v = decode(r, u);
                for (var k = 0u; k < tn; k++) {
                    let e = p.x_off + (t0 + k) * p.x_stride + 32u * u;
                    var s = vec4<f32>(0.0);
                    for (var j = 0u; j < 8u; j++) {
                        s += v[j] * x4(e + 4u * j, 32u * u + 4u * j, last);
                    }
                    acc[k] += (s.x + s.y) + (s.z + s.w);
                }
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
