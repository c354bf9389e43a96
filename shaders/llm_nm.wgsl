// A 2:4 semi-structured LLM linear layer (nm24i8: per aligned run of 4 columns two int8
// values and their 2-bit positions, an f16 scale per (row, 32 columns)), decoded in registers:
//   Y (t, rows) = X (t, cols) @ Wᵀ   (t = 1: decode GEMV; t ≤ 16: prefill GEMM)
//
// One buffer holds the part's arrays, each row padded to whole 32-column blocks so every row
// and block starts on a word (the file's rows are cols/2 bytes, 2-aligned only):
//   vals (rows, blocks·4) u32 at 0: block b's 16 i8 values, run k's at bytes 2k, 2k+1;
//   pos (rows, blocks) u32 at pos_off: run k's nibble p0 | p1 << 2 in byte k/2 (low nibble
//   for even k); padding runs have value 0 at positions 0 and 1;
//   scale (rows, ⌈blocks/2⌉) u32 at scale_off: f16 pairs, block b's in half b % 2.
// A unit is one block: 4 value words, 1 position word, 1 scale; lanes split a row's blocks as
// in llm_dense.wgsl, and each block is decoded once per tile of TT tokens.

struct Params {
    rows: u32,      // rows of this part
    cols: u32,      // input columns (a multiple of 4)
    x_off: u32,     // X: token tok starts at x_off + tok·x_stride
    x_stride: u32,
    y_off: u32,     // Y: y[y_off + tok·y_stride + r], r counted from the part's first row
    y_stride: u32,
    acc: u32,       // 1: y += W·x, 0: y = W·x
    tokens: u32,    // 0: the call's st.t; n: exactly n
    blocks: u32,    // 32-column blocks per row
    pos_off: u32,   // word offsets of the arrays in w
    scale_off: u32,
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

// invocations per row: 1 (RowSplit::PerRow, CPU adapters), or a power of two 4..64
override LANES: u32 = 8u;

@group(0) @binding(0) var<uniform> p: Params;                  // Params (above)
@group(0) @binding(1) var<uniform> st: State;                  // State (t: tokens of the call)
@group(0) @binding(2) var<storage, read> x: array<f32>;        // X (t, cols) at x_off, stride x_stride
@group(0) @binding(3) var<storage, read> w: array<u32>;        // vals (rows, 4·blocks) | pos (rows, blocks) | scale (rows, ⌈blocks/2⌉)
@group(0) @binding(4) var<storage, read_write> y: array<f32>;  // Y (t, y_stride) at y_off

const WG: u32 = 64u;
const TT: u32 = 8u;  // tokens per decoded block

var<workgroup> red: array<f32, 512>;  // partial sums (TT, WG)

fn sbytes(q: u32) -> vec4<f32> {
    let v = bitcast<vec4<i32>>(vec4<u32>(q) << vec4<u32>(24u, 16u, 8u, 0u));
    return vec4<f32>(v >> vec4<u32>(24u));
}

// Word i of a block: runs 2i, 2i + 1; their four columns (positions from byte i of pw),
// clamped to the row's last column (a padding run's values are 0).
fn cols4(pw: u32, i: u32, c0: u32, last: vec4<u32>) -> vec4<u32> {
    let nib = (vec4<u32>(pw >> (8u * i)) >> vec4<u32>(0u, 2u, 4u, 6u)) & vec4<u32>(3u);
    return min(vec4<u32>(c0 + 8u * i) + vec4<u32>(0u, 0u, 4u, 4u) + nib, last);
}

// One 32-column block decoded: 16 values and their columns. Named members, not arrays: see
// llm_dense.wgsl's W32.
struct Blk {
    v0: vec4<f32>,
    v1: vec4<f32>,
    v2: vec4<f32>,
    v3: vec4<f32>,
    c0: vec4<u32>,
    c1: vec4<u32>,
    c2: vec4<u32>,
    c3: vec4<u32>,
}

fn decode(r: u32, b: u32, last: vec4<u32>) -> Blk {
    let sh = unpack2x16float(w[p.scale_off + r * ((p.blocks + 1u) / 2u) + (b >> 1u)]);
    let d = select(sh.x, sh.y, (b & 1u) != 0u);
    let pw = w[p.pos_off + r * p.blocks + b];
    let v0 = r * 4u * p.blocks + 4u * b;
    let c = 32u * b;
    return Blk(sbytes(w[v0]) * d, sbytes(w[v0 + 1u]) * d, sbytes(w[v0 + 2u]) * d,
               sbytes(w[v0 + 3u]) * d, cols4(pw, 0u, c, last), cols4(pw, 1u, c, last),
               cols4(pw, 2u, c, last), cols4(pw, 3u, c, last));
}

fn gx(c: vec4<u32>, e: u32) -> vec4<f32> {
    return vec4<f32>(x[c.x + e], x[c.y + e], x[c.z + e], x[c.w + e]);
}

// Σ values · X[columns], X of one token from element e.
fn dotb(k: Blk, e: u32) -> f32 {
    let s = k.v0 * gx(k.c0, e) + k.v1 * gx(k.c1, e) + k.v2 * gx(k.c2, e) + k.v3 * gx(k.c3, e);
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
    let t = select(p.tokens, st.t, p.tokens == 0u);
    let last = vec4<u32>(p.cols - 1u);
    for (var t0 = 0u; t0 < t; t0 += TT) {
        let tn = min(TT, t - t0);
        // per-token sums: a loop, not a chain of ifs (SwiftShader runs both sides of an if
        // under a lane mask, so untaken tokens would cost as much as taken ones)
        var acc: array<f32, 8>;
        for (var k = 0u; k < TT; k++) {
            acc[k] = 0.0;
        }
        if live {
            let e = p.x_off + t0 * p.x_stride;
            for (var b = lane; b < p.blocks; b += LANES) {
                let k = decode(r, b, last);
                for (var tk = 0u; tk < tn; tk++) {
                    acc[tk] += dotb(k, e + tk * p.x_stride);
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
