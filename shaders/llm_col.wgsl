// A column-major LLM linear layer (cm32i8, cm32i4: per 32-row tile and input column, an f16
// scale and 32 quantized weights), for activation sparsity:
//   SKIP 1: y (rows,) = W (rows, cols) @ x (cols,) over the nonzero x_j only (decode), the
//           column list from llm_compact.wgsl;
//   SKIP 0: Y (t, rows) = X (t, cols) @ Wᵀ over every column (prefill, t ≤ 16).
//
// The GEMV runs as y += x_j · W[:, j]: a column's 32 weights of a tile are one contiguous run
// (8 words of int8, 4 of int4), so a zero input skips its run and its scale entirely.
// One buffer holds the part's arrays (its whole tiles):
//   d (tiles, cols) f16 at 0 (index tile·cols + col), padded to a word;
//   q (tiles, cols, 8 | 4) u32 at q_off: int8 byte i = row i, w = i8·d; int4 byte i = row i
//   (low nibble) and row i + 16 (high), w = (q − 8)·d.
// Work decomposition: invocation = (row quad rq: rows 4rq .. 4rq + 4 of a tile, column lane),
// so each invocation keeps one vec4 of rows per token (tiles of TT tokens in prefill).
// LANES = 8 (RowSplit::Spread, GPUs): a workgroup of 64 covers one tile, and the 8 lanes'
// sums meet in workgroup memory. LANES = 1 (RowSplit::PerRow, CPU adapters, whose invocations
// are SIMD lanes of a thread): a workgroup covers 8 tiles, each invocation walks every column
// of its rows and writes its sums directly, without workgroup memory or a barrier.

struct Params {
    rows: u32,      // rows of this part
    cols: u32,      // input columns
    x_off: u32,     // X: token tok starts at x_off + tok·x_stride
    x_stride: u32,
    y_off: u32,     // Y: y[y_off + tok·y_stride + r], r counted from the part's first row
    y_stride: u32,
    acc: u32,       // 1: y += W·x, 0: y = W·x
    tokens: u32,    // 0: the call's st.t; n: exactly n (SKIP: 1)
    q_off: u32,     // word offset of q in w
    pad0: u32,
    pad1: u32,
    pad2: u32,
    pad3: u32,
    pad4: u32,
    pad5: u32,
    pad6: u32,
}

struct State {
    pos0: u32,
    t: u32,
    top_k: u32,
    temperature: f32,
    pad: vec4<u32>,
}

// bits per weight: 8 or 4
override BITS: u32 = 8u;
// 1: walk nz's columns (decode, token 0 only); 0: every column, every token
override SKIP: u32 = 1u;
// column lanes per row quad: 8 or 1 (see above)
override LANES: u32 = 8u;

@group(0) @binding(0) var<uniform> p: Params;                  // Params (above)
@group(0) @binding(1) var<uniform> st: State;                  // State (t: tokens of the call)
@group(0) @binding(2) var<storage, read> x: array<f32>;        // X (t, cols) at x_off, stride x_stride
@group(0) @binding(3) var<storage, read> w: array<u32>;        // d (tiles, cols) f16 | q (tiles, cols, BITS)
@group(0) @binding(4) var<storage, read_write> y: array<f32>;  // Y (t, y_stride) at y_off
@group(0) @binding(5) var<storage, read> nz: array<u32>;       // nz (cols + 1,): count, then x's nonzero columns (SKIP 0: unread)

const WG: u32 = 64u;
const TT: u32 = 4u;     // tokens per decoded column run

var<workgroup> red: array<f32, 1024>;  // partial sums (TT, LANES, 32 rows)

fn nibbles(q: u32, s: u32) -> vec4<f32> {
    return vec4<f32>((vec4<u32>(q) >> vec4<u32>(s, s + 8u, s + 16u, s + 24u)) & vec4<u32>(15u));
}

fn sbytes(q: u32) -> vec4<f32> {
    let v = bitcast<vec4<i32>>(vec4<u32>(q) << vec4<u32>(24u, 16u, 8u, 0u));
    return vec4<f32>(v >> vec4<u32>(24u));
}

// Rows 4rq .. 4rq + 4 of (tile, column) entry k = tile·cols + col.
fn weights(k: u32, rq: u32) -> vec4<f32> {
    let dh = unpack2x16float(w[k >> 1u]);
    let d = select(dh.x, dh.y, (k & 1u) != 0u);
    if BITS == 8u {
        return sbytes(w[p.q_off + 8u * k + rq]) * d;
    }
    let q = w[p.q_off + 4u * k + (rq & 3u)];
    return nibbles(q, 4u * (rq >> 2u)) * d - 8.0 * d;
}

@compute @workgroup_size(64, 1, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let rq = li & 7u;
    let lane = (li >> 3u) % LANES;
    let tile = (wg.y * 65535u + wg.x) * (8u / LANES) + (li >> 3u) / LANES;
    let kt = tile * p.cols;
    // with SKIP 0 the list is unread (its binding is then x again): the count is every column
    // (LANES = 1: the last workgroup's tiles past the part's rows walk no column)
    let n = select(0u, select(p.cols, nz[0], SKIP == 1u), 32u * tile < p.rows);
    let t = select(select(p.tokens, st.t, p.tokens == 0u), 1u, SKIP == 1u);
    for (var t0 = 0u; t0 < t; t0 += TT) {
        let tn = min(TT, t - t0);
        // one accumulator per token of the tile, in registers: SwiftShader keeps a private
        // array indexed in a loop in memory, per lane (the ifs run masked on SwiftShader, but
        // only in the prefill, whose tiles are mostly full)
        var a0 = vec4<f32>(0.0);
        var a1 = vec4<f32>(0.0);
        var a2 = vec4<f32>(0.0);
        var a3 = vec4<f32>(0.0);
        let e = p.x_off + t0 * p.x_stride;
        if SKIP == 1u {
            for (var i = lane; i < n; i += LANES) {
                let j = nz[1u + i];
                a0 += weights(kt + j, rq) * x[e + j];
            }
        } else {
            for (var j = lane; j < n; j += LANES) {
                let v = weights(kt + j, rq);
                a0 += v * x[e + j];
                if tn > 1u {
                    a1 += v * x[e + p.x_stride + j];
                }
                if tn > 2u {
                    a2 += v * x[e + 2u * p.x_stride + j];
                }
                if tn > 3u {
                    a3 += v * x[e + 3u * p.x_stride + j];
                }
            }
        }
        if LANES == 1u {
            for (var k = 0u; k < tn; k++) {
                var v = a0;
                if k == 1u {
                    v = a1;
                } else if k == 2u {
                    v = a2;
                } else if k == 3u {
                    v = a3;
                }
                for (var i = 0u; i < 4u; i++) {
                    let r = tile * 32u + 4u * rq + i;
                    if r < p.rows {
                        let yi = p.y_off + (t0 + k) * p.y_stride + r;
                        var s = v[i];
                        if p.acc != 0u {
                            s += y[yi];
                        }
                        y[yi] = s;
                    }
                }
            }
            continue;
        }
        let at = lane * 32u + 4u * rq;
        for (var i = 0u; i < 4u; i++) {
            red[at + i] = a0[i];
            red[256u + at + i] = a1[i];
            red[512u + at + i] = a2[i];
            red[768u + at + i] = a3[i];
        }
        workgroupBarrier();
        for (var o = li; o < 32u * tn; o += WG) {
            let row = o % 32u;
            let k = o / 32u;
            let r = tile * 32u + row;
            if r < p.rows {
                var s = 0.0;
                for (var l = 0u; l < LANES; l++) {
                    s += red[k * 256u + l * 32u + row];
                }
                let yi = p.y_off + (t0 + k) * p.y_stride + r;
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
