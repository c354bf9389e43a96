// Sparse 1x1 convolution / fully connected layer, CHW, batch 1:
//   Y (m, n) = clamp(W (m, k) @ X (k, n) + b (m), lo, hi)        n = H·W pixels (1 for FC)
// with W in CSR rows of output channels, packed once at load time (src/gpu/pack.rs).
//
// Layout. The rows are stored sorted by nonzero count, longest first: slot s is output
// channel order[s], and its nonzeros are col[row_ptr[s] .. row_ptr[s + 1]] (input channels,
// ascending) with values val[same range]. Column indices are plain u32 channel numbers rather
// than XNNPACK's byte deltas: a GPU computes `col · n` for free, and indices make the stream
// checkable (every col < k) before it is uploaded.
//
// Work decomposition. A workgroup is ROWS slots × LANES invocations, each invocation owning
// 4 pixels strided by LANES (so a workgroup covers LANES·4 pixels of ROWS output channels).
// The LANES invocations of a slot walk the same nonzero list in lockstep: uniform control
// flow, and (col, val) is the same address for all of them (one broadcast load per nonzero),
// while their X loads, x[col·n + p], are consecutive across lanes (coalesced). Every X row
// read is thus shared by nobody else in the workgroup: the sparse kernel trades the dense
// GEMM's on-chip reuse of X for skipping the zeros, which is why it only wins at high
// sparsity (src/gpu/lower.rs picks per layer). Large layers (n ≥ 256) use LANES = 64,
// ROWS = 1; small ones (7×7 maps, FC with n = 1) put several slots in one workgroup so no
// lanes idle, and sorting by length makes those slots finish together. Longest rows are
// dispatched first, so the last workgroups to run are the short ones (a short tail).

struct Params {
    m: u32,        // output channels
    n: u32,        // pixels per channel
    ptr_off: u32,  // start of row_ptr in idx
    col_off: u32,  // start of col in idx
    lo: f32,       // clamp (fused ReLU / ReLU6; ±inf for none)
    hi: f32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;                  // Params (above): this step's sizes
@group(0) @binding(1) var<storage, read> x: array<f32>;        // X (k, n)
@group(0) @binding(2) var<storage, read> idx: array<u32>;      // order (m) | row_ptr (m + 1) | col (nnz)
@group(0) @binding(3) var<storage, read> wts: array<f32>;      // bias (m), by channel | val (nnz)
@group(0) @binding(4) var<storage, read_write> y: array<f32>;  // Y (m, n)

override LANES: u32 = 64u;   // invocations along pixels
override ROWS: u32 = 1u;     // output channels per workgroup; LANES · ROWS ≤ 256
const PIX: u32 = 4u;         // pixels per invocation

@compute @workgroup_size(LANES, ROWS, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let s = wg.y * ROWS + lid.y;
    if s >= p.m {
        return;
    }
    let row = idx[s];
    let start = idx[p.ptr_off + s];
    let end = idx[p.ptr_off + s + 1u];
    let p0 = wg.x * LANES * PIX + lid.x;
    let px = vec4<u32>(p0, p0 + LANES, p0 + 2u * LANES, p0 + 3u * LANES);
    let inside = px < vec4<u32>(p.n);
    // Pixels past the end read pixel 0 of the row (always in bounds) and are never stored.
    let q = select(vec4<u32>(0u), px, inside);
    var acc = vec4<f32>(wts[row]);
    for (var j = start; j < end; j++) {
        let base = idx[p.col_off + j] * p.n;
        let v = wts[p.m + j];
        acc += v * vec4<f32>(x[base + q.x], x[base + q.y], x[base + q.z], x[base + q.w]);
    }
    let out = min(max(acc, vec4<f32>(p.lo)), vec4<f32>(p.hi));
    let yrow = row * p.n;
    for (var i = 0u; i < PIX; i++) {
        if inside[i] {
            y[yrow + px[i]] = out[i];
        }
    }
}
