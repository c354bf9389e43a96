// Softmax over a whole vector: y_i = e^(x_i − max x) / Σ_j e^(x_j − max x).
//
// Work decomposition. The vector is small (a classifier's 1000 logits), so a single
// workgroup of 256 invocations does it in three strided passes: max, then sum of
// exponentials (each invocation writes its e^(x − m) into y), then the division. The two
// reductions are trees in workgroup memory. Each invocation only re-reads the y elements it
// wrote itself, so no barrier is needed between the last two passes beyond the reduction's.

struct Params {
    n: u32,  // elements
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;                  // Params (above): this step's sizes
@group(0) @binding(1) var<storage, read> x: array<f32>;        // x (n)
@group(0) @binding(2) var<storage, read_write> y: array<f32>;  // y (n)

var<workgroup> red: array<f32, 256>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(local_invocation_id) lid: vec3<u32>) {
    let t = lid.x;
    // Max: start from x[0] (n ≥ 1), so no infinity literal is needed.
    var m = x[0];
    for (var i = t; i < p.n; i += 256u) {
        m = max(m, x[i]);
    }
    red[t] = m;
    workgroupBarrier();
    for (var half = 128u; half > 0u; half >>= 1u) {
        if t < half {
            red[t] = max(red[t], red[t + half]);
        }
        workgroupBarrier();
    }
    let mx = red[0];
    workgroupBarrier();
    var s = 0.0;
    for (var i = t; i < p.n; i += 256u) {
        let e = exp(x[i] - mx);
        y[i] = e;
        s += e;
    }
    red[t] = s;
    workgroupBarrier();
    for (var half = 128u; half > 0u; half >>= 1u) {
        if t < half {
            red[t] += red[t + half];
        }
        workgroupBarrier();
    }
    let total = red[0];
    for (var i = t; i < p.n; i += 256u) {
        y[i] = y[i] / total;
    }
}
