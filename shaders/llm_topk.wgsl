// The sampler's candidates on the GPU: the TOPK_MAX (64) largest logits, sorted by logit
// descending and id ascending among equals, and the softmax normaliser over the whole vocab
// Z = Σ e^((l − max) / temperature), so that one small readback replaces the vocab's.
//
// PASS 0 (one workgroup per chunk of 1024 logits): in workgroup memory, a bitonic sort of
//   each block of 64 (21 stages; logits become order-preserving u32 keys, so equal logits
//   fall back to the id), then 4 rounds that halve the blocks keeping the best 64 of each
//   pair (`best_blocks`, 28 stages); the chunk's best 64, its max and Σ e^((l − max)/T) go to
//   `part`. Greedy (st.top_k = 1) needs the best one only: a tree argmax (8 stages).
// PASS 1 (one workgroup): merges the chunks' lists, 15 at a time, into a running best 64:
//   the lists are already sorted, so loading odd ones reversed lets `best_blocks` run at
//   once. Z combines the chunks' sums as Σ_c s_c · e^((max_c − max)/T). Greedy: a tree
//   argmax over the chunks' heads.
//
// Words of a chunk's record in `part` (REC = 130): keys [0, 64), ids [64, 128), max (f32)
// at 128, sum (f32) at 129. `out`: (id, logit bits) pairs [0, 128), Z (f32) at 128 (0 when
// temperature is 0). Slots past the vocab (and past the first, greedy) hold id 0xffffffff, −∞.

override PASS: u32 = 0u;

const K: u32 = 64u;     // TOPK_MAX
const C: u32 = 1024u;   // chunk of PASS 0, and the merge buffer of PASS 1
const WG: u32 = 256u;
const REC: u32 = 130u;
const NONE: u32 = 0xffffffffu;

struct Params {
    vocab: u32,
    chunks: u32, // ⌈vocab / C⌉
}

struct State { pos0: u32, t: u32, top_k: u32, temperature: f32, pad: vec4<u32> }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<uniform> st: State;
@group(0) @binding(2) var<storage, read> logits: array<f32>;     // logits (vocab,)
@group(0) @binding(3) var<storage, read_write> part: array<u32>; // part (chunks, REC)
@group(0) @binding(4) var<storage, read_write> out: array<u32>;  // out (2·K + 1,)

var<workgroup> keys: array<u32, C>;
var<workgroup> ids: array<u32, C>;
var<workgroup> red: array<f32, WG>;

// Order-preserving key of an f32 (total order: −NaN < −∞ < … < −0 < +0 < … < +∞ < +NaN);
// key 0 (a negative NaN's) marks an empty slot.
fn key_of(v: f32) -> u32 {
    let b = bitcast<u32>(v);
    if (b & 0x80000000u) != 0u {
        return ~b;
    }
    return b | 0x80000000u;
}

// An output slot's logit bits: −∞ for an empty slot.
fn logit_bits(k: u32) -> u32 {
    if k == 0u {
        return 0xff800000u;
    }
    return bitcast<u32>(value_of(k));
}

fn value_of(k: u32) -> f32 {
    if (k & 0x80000000u) != 0u {
        return bitcast<f32>(k & 0x7fffffffu);
    }
    return bitcast<f32>(~k);
}

// (ka, ia) comes before (kb, ib): larger logit, then lower id.
fn before(ka: u32, ia: u32, kb: u32, ib: u32) -> bool {
    return ka > kb || (ka == kb && ia < ib);
}

// Bitonic sort phases k = 2 .. K over keys/ids[0 .. C): blocks of K sorted, alternately
// best first (even blocks) and worst first (odd).
fn sort_blocks(l: u32) {
    for (var k = 2u; k <= K; k <<= 1u) {
        for (var j = k >> 1u; j > 0u; j >>= 1u) {
            for (var r = 0u; r < C / 2u; r += WG) {
                let t = l + r;
                let a = 2u * j * (t / j) + (t % j);
                let b = a + j;
                let first = (a & k) == 0u; // this block sorts best first
                let ok = before(keys[a], ids[a], keys[b], ids[b]);
                if ok != first {
                    let kk = keys[a];
                    keys[a] = keys[b];
                    keys[b] = kk;
                    let ii = ids[a];
                    ids[a] = ids[b];
                    ids[b] = ii;
                }
            }
            workgroupBarrier();
        }
    }
}

// The best K of keys/ids[0 .. C) (blocks of K sorted, alternating as `sort_blocks` leaves
// them) into block 0, best first. Each round pairs block 2m (best first) with 2m + 1 (worst
// first): their elementwise better is a bitonic sequence holding the pair's best K, which the
// bitonic network's last phase sorts, alternating again. 4 rounds of 1 + 6 stages, on half
// as many entries each time: about half the compare-exchanges of sorting all C.
fn best_blocks(l: u32) {
    for (var n = C / 2u; n >= K; n >>= 1u) {
        // n outputs, at most 2 per invocation: read both, then write (blocks overlap)
        var k0 = 0u;
        var i0 = NONE;
        var k1 = 0u;
        var i1 = NONE;
        for (var r = 0u; r < 2u; r++) {
            let o = l + r * WG;
            if o < n {
                let a = 2u * K * (o / K) + o % K;
                let b = a + K;
                var kk = keys[b];
                var ii = ids[b];
                if before(keys[a], ids[a], kk, ii) {
                    kk = keys[a];
                    ii = ids[a];
                }
                if r == 0u {
                    k0 = kk;
                    i0 = ii;
                } else {
                    k1 = kk;
                    i1 = ii;
                }
            }
        }
        workgroupBarrier();
        if l < n {
            keys[l] = k0;
            ids[l] = i0;
        }
        if l + WG < n {
            keys[l + WG] = k1;
            ids[l + WG] = i1;
        }
        workgroupBarrier();
        for (var j = K / 2u; j > 0u; j >>= 1u) {
            let t = l; // n / 2 ≤ WG pairs
            if t < n / 2u {
                let a = 2u * j * (t / j) + (t % j);
                let b = a + j;
                let first = (a & K) == 0u;
                if before(keys[a], ids[a], keys[b], ids[b]) != first {
                    let kk = keys[a];
                    keys[a] = keys[b];
                    keys[b] = kk;
                    let ii = ids[a];
                    ids[a] = ids[b];
                    ids[b] = ii;
                }
            }
            workgroupBarrier();
        }
    }
}

// Tree argmax over keys/ids[0 .. WG) into slot 0.
fn argmax_tree(l: u32) {
    workgroupBarrier();
    for (var half = WG / 2u; half > 0u; half >>= 1u) {
        if l < half && before(keys[l + half], ids[l + half], keys[l], ids[l]) {
            keys[l] = keys[l + half];
            ids[l] = ids[l + half];
        }
        workgroupBarrier();
    }
}

fn sum_tree(l: u32, v: f32) -> f32 {
    red[l] = v;
    workgroupBarrier();
    for (var half = WG / 2u; half > 0u; half >>= 1u) {
        if l < half {
            red[l] += red[l + half];
        }
        workgroupBarrier();
    }
    return red[0];
}

fn max_tree(l: u32, v: f32) -> f32 {
    red[l] = v;
    workgroupBarrier();
    for (var half = WG / 2u; half > 0u; half >>= 1u) {
        if l < half {
            red[l] = max(red[l], red[l + half]);
        }
        workgroupBarrier();
    }
    let m = red[0];
    workgroupBarrier();
    return m;
}

fn chunk_pass(c: u32, l: u32) {
    let base = c * C;
    let greedy = st.top_k == 1u;
    if greedy {
        var bk = 0u;
        var bi = NONE;
        for (var r = 0u; r < C; r += WG) {
            let e = base + r + l;
            if e < p.vocab {
                let k = key_of(logits[e]);
                if before(k, e, bk, bi) {
                    bk = k;
                    bi = e;
                }
            }
        }
        keys[l] = bk;
        ids[l] = bi;
        argmax_tree(l);
    } else {
        for (var r = 0u; r < C; r += WG) {
            let e = base + r + l;
            if e < p.vocab {
                keys[r + l] = key_of(logits[e]);
                ids[r + l] = e;
            } else {
                keys[r + l] = 0u;
                ids[r + l] = NONE;
            }
        }
        workgroupBarrier();
        sort_blocks(l);
        best_blocks(l);
    }
    let mx = value_of(keys[0]);
    var s = 0.0;
    // −∞ logits add nothing (and a chunk of nothing else would make ∞ − ∞)
    if st.temperature > 0.0 && mx > -3.0e38 {
        for (var r = 0u; r < C; r += WG) {
            let e = base + r + l;
            if e < p.vocab && logits[e] > -3.0e38 {
                s += exp((logits[e] - mx) / st.temperature);
            }
        }
    }
    let total = sum_tree(l, s);
    let rec = c * REC;
    if l < K {
        var k = keys[l];
        var i = ids[l];
        if greedy && l > 0u {
            k = 0u;
            i = NONE;
        }
        part[rec + l] = k;
        part[rec + K + l] = i;
    }
    if l == 0u {
        part[rec + 2u * K] = bitcast<u32>(mx);
        part[rec + 2u * K + 1u] = bitcast<u32>(total);
    }
}

fn merge_pass(l: u32) {
    let n = p.chunks;
    // Z: the max over the chunks' maxima, then their sums rescaled to it
    var z = 0.0;
    if st.temperature > 0.0 {
        var m = -3.0e38;
        for (var c = l; c < n; c += WG) {
            m = max(m, bitcast<f32>(part[c * REC + 2u * K]));
        }
        let mx = max_tree(l, m);
        var s = 0.0;
        for (var c = l; c < n; c += WG) {
            let mc = bitcast<f32>(part[c * REC + 2u * K]);
            if mc > -3.0e38 {
                s += bitcast<f32>(part[c * REC + 2u * K + 1u]) * exp((mc - mx) / st.temperature);
            }
        }
        z = sum_tree(l, s);
    }
    if st.top_k == 1u {
        var bk = 0u;
        var bi = NONE;
        for (var c = l; c < n; c += WG) {
            let k = part[c * REC];
            let i = part[c * REC + K];
            if before(k, i, bk, bi) {
                bk = k;
                bi = i;
            }
        }
        keys[l] = bk;
        ids[l] = bi;
        argmax_tree(l);
        if l < K {
            if l == 0u {
                out[0] = ids[0];
                out[1] = logit_bits(keys[0]);
            } else {
                out[2u * l] = NONE;
                out[2u * l + 1u] = logit_bits(0u);
            }
        }
    } else {
        if l < K {
            keys[l] = 0u;
            ids[l] = NONE;
        }
        // 15 lists per round after the running best 64 (list 0)
        for (var c0 = 0u; c0 < n; c0 += C / K - 1u) {
            for (var s = K + l; s < C; s += WG) {
                let li = s / K;         // list slot 1 .. 15
                var j = s % K;
                if (li & 1u) == 1u {
                    j = K - 1u - j;     // odd blocks sorted worst first
                }
                let c = c0 + li - 1u;
                if c < n {
                    keys[s] = part[c * REC + j];
                    ids[s] = part[c * REC + K + j];
                } else {
                    keys[s] = 0u;
                    ids[s] = NONE;
                }
            }
            workgroupBarrier();
            best_blocks(l);
        }
        if l < K {
            out[2u * l] = ids[l];
            out[2u * l + 1u] = logit_bits(keys[l]);
        }
    }
    if l == 0u {
        out[2u * K] = bitcast<u32>(z);
    }
}

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    if PASS == 0u {
        chunk_pass(wid.x, lid.x);
    } else {
        merge_pass(lid.x);
    }
}
