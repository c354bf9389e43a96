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

// invocations per row (a power of two, 4..64)
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
    let sw = (p.blocks + 1u) / 2u;
    for (var t0 = 0u; t0 < t; t0 += TT) {
        let tn = min(TT, t - t0);
        var acc: array<f32, 8>;
        if live {
            for (var b = lane; b < p.blocks; b += LANES) {
                let sh = unpack2x16float(w[p.scale_off + r * sw + (b >> 1u)]);
                let d = select(sh.x, sh.y, (b & 1u) != 0u);
                let pw = w[p.pos_off + r * p.blocks + b];
                let v0 = r * 4u * p.blocks + 4u * b;
                var v: array<vec4<f32>, 4>;
                var c: array<vec4<u32>, 4>;
                for (var i = 0u; i < 4u; i++) {
                    // word i: runs 2i and 2i + 1, whose positions are byte i of pw
                    v[i] = sbytes(w[v0 + i]) * d;
                    let nib = (vec4<u32>(pw >> (8u * i)) >> vec4<u32>(0u, 2u, 4u, 6u)) & vec4<u32>(3u);
                    c[i] = min(vec4<u32>(32u * b + 8u * i) + vec4<u32>(0u, 0u, 4u, 4u) + nib, last);
                }
                for (var tk = 0u; tk < tn; tk++) {
                    let e = p.x_off + (t0 + tk) * p.x_stride;
                    var s = vec4<f32>(0.0);
                    for (var i = 0u; i < 4u; i++) {
                        let ci = c[i] + vec4<u32>(e);
                        s += v[i] * vec4<f32>(x[ci.x], x[ci.y], x[ci.z], x[ci.w]);
                    }
                    acc[tk] += (s.x + s.y) + (s.z + s.w);
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
