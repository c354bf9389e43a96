// TensorFlow.js running one of the zoo's ONNX CNNs (MobileNetV1/V2, EfficientNet-Lite0): the
// CNN page's TF.js peer (issue 14), on the same ONNX bytes the other engines get. There is no
// TF.js graph model of these in the zoo, so this reads the ONNX file itself and builds what
// TF.js's converter would emit for the same network: BatchNormalization folded into the conv,
// Conv + Clip(0, 6) / Relu as one fused op (tf.fused.conv2d / depthwiseConv2d with 'relu6' /
// 'relu'), NHWC, weights uploaded once. XNNPACK runs every conv either way, so the timing is
// TF.js's, not this file's. Only the ops those models use are accepted; anything else throws.

// ---- a minimal protobuf reader (the ONNX fields used here) ------------------------------------

function reader(bytes) {
  let pos = 0;
  const varint = () => {
    let x = 0;
    let mul = 1;
    for (;;) {
      const b = bytes[pos++];
      x += (b & 0x7f) * mul;
      if (b < 0x80) return x;
      mul *= 128;
    }
  };
  return {
    done: () => pos >= bytes.length,
    /** [field, wireType, value]: value is a number (varint, fixed) or a Uint8Array (length-delimited). */
    next() {
      const key = varint();
      const [field, wire] = [Math.floor(key / 8), key & 7];
      if (wire === 0) return [field, wire, varint()];
      if (wire === 2) {
        const n = varint();
        const v = bytes.subarray(pos, pos + n);
        pos += n;
        return [field, wire, v];
      }
      if (wire === 5) {
        const v = new DataView(bytes.buffer, bytes.byteOffset + pos, 4).getFloat32(0, true);
        pos += 4;
        return [field, wire, v];
      }
      if (wire === 1) {
        pos += 8;
        return [field, wire, null];
      }
      throw new Error(`onnx: unsupported protobuf wire type ${wire}`);
    },
  };
}

const text = (b) => new TextDecoder().decode(b);
/** Appends repeated int64 values (one varint, or a packed run) to `into`, as numbers. */
function ints(into, wire, v) {
  if (wire === 0) into.push(v);
  else into.push(...packedVarints(v));
}
function packedVarints(bytes) {
  const out = [];
  let x = 0;
  let mul = 1;
  for (const b of bytes) {
    x += (b & 0x7f) * mul;
    if (b < 0x80) {
      out.push(x);
      [x, mul] = [0, 1];
    } else mul *= 128;
  }
  return out;
}

function parseTensor(b) {
  const t = { dims: [], dataType: 0, name: '', data: null, floats: [] };
  const r = reader(b);
  while (!r.done()) {
    const [f, w, v] = r.next();
    if (f === 1) ints(t.dims, w, v);
    else if (f === 2) t.dataType = v;
    else if (f === 8) t.name = text(v);
    else if (f === 9) t.data = v;
    else if (f === 4) {
      if (w === 2) t.floats.push(...new Float32Array(v.slice().buffer));
      else t.floats.push(v);
    }
  }
  if (t.dataType !== 1) throw new Error(`onnx: initializer ${t.name} has data type ${t.dataType}, expected float`);
  t.values = t.data ? new Float32Array(t.data.slice().buffer) : Float32Array.from(t.floats);
  return t;
}

function parseAttribute(b) {
  const a = { name: '', ints: [] };
  const r = reader(b);
  while (!r.done()) {
    const [f, w, v] = r.next();
    if (f === 1) a.name = text(v);
    else if (f === 2) a.f = v;
    else if (f === 3) a.i = v;
    else if (f === 8) ints(a.ints, w, v);
  }
  return a;
}

function parseNode(b) {
  const n = { inputs: [], outputs: [], op: '', attrs: {} };
  const r = reader(b);
  while (!r.done()) {
    const [f, , v] = r.next();
    if (f === 1) n.inputs.push(text(v));
    else if (f === 2) n.outputs.push(text(v));
    else if (f === 4) n.op = text(v);
    else if (f === 5) {
      const a = parseAttribute(v);
      n.attrs[a.name] = a;
    }
  }
  return n;
}

/** {nodes, inits: name → {dims, values}, input: the graph's first input name} of an ONNX model. */
export function parseOnnx(bytes) {
  let graph = null;
  const r = reader(bytes);
  while (!r.done()) {
    const [f, , v] = r.next();
    if (f === 7) graph = v;
  }
  if (!graph) throw new Error('onnx: no graph');
  const g = { nodes: [], inits: new Map(), inputs: [] };
  const rg = reader(graph);
  while (!rg.done()) {
    const [f, , v] = rg.next();
    if (f === 1) g.nodes.push(parseNode(v));
    else if (f === 5) {
      const t = parseTensor(v);
      g.inits.set(t.name, t);
    } else if (f === 11) {
      const rv = reader(v);
      while (!rv.done()) {
        const [ff, , vv] = rv.next();
        if (ff === 1) g.inputs.push(text(vv));
      }
    }
  }
  g.input = g.inputs.find((n) => !g.inits.has(n));
  return g;
}

// ---- the TF.js program -------------------------------------------------------------------------

/**
 * Compiles the parsed graph into a list of steps over tf tensors (weights created once, NHWC).
 * Returns {run(x: tf.Tensor NHWC) → tf.Tensor logits, dispose(), ops: {fused_conv, depthwise, …}}.
 */
export function compileForTfjs(tf, g) {
  const users = new Map();
  for (const n of g.nodes) for (const i of n.inputs) users.set(i, (users.get(i) ?? 0) + 1);
  const weights = [];
  const keep = (t) => (weights.push(t), t);
  const init = (name) => {
    const t = g.inits.get(name);
    if (!t) throw new Error(`onnx: ${name} is not an initializer`);
    return t;
  };
  const steps = [];
  const ops = {};
  const count = (k) => (ops[k] = (ops[k] ?? 0) + 1);
  const consumed = new Set();
  // a node's sole consumer, when it is `op`
  const soleUser = (out, op) => {
    if (users.get(out) !== 1) return null;
    const n = g.nodes.find((m) => m.inputs[0] === out);
    return n && n.op === op ? n : null;
  };
  for (const n of g.nodes) {
    if (consumed.has(n)) continue;
    if (n.op === 'Conv') {
      const w = init(n.inputs[1]);
      const [cOut, cPer, kh, kw] = w.dims;
      const group = n.attrs.group?.i ?? 1;
      const stride = n.attrs.strides?.ints ?? [1, 1];
      const pads = n.attrs.pads?.ints ?? [0, 0, 0, 0];
      const dil = n.attrs.dilations?.ints ?? [1, 1];
      if (dil.some((d) => d !== 1)) throw new Error('onnx→tfjs: dilated conv');
      let scale = new Float32Array(cOut).fill(1);
      let bias = n.inputs[2] ? Float32Array.from(init(n.inputs[2]).values) : new Float32Array(cOut);
      let out = n.outputs[0];
      const bn = soleUser(out, 'BatchNormalization');
      if (bn) {
        // fold as TF.js's converter does: w' = w·γ/√(var+ε), b' = (b − μ)·γ/√(var+ε) + β
        const [gam, bet, mu, vr] = bn.inputs.slice(1).map((i) => init(i).values);
        const eps = bn.attrs.epsilon?.f ?? 1e-5;
        scale = scale.map((_, c) => gam[c] / Math.sqrt(vr[c] + eps));
        bias = bias.map((b, c) => (b - mu[c]) * scale[c] + bet[c]);
        consumed.add(bn);
        out = bn.outputs[0];
      }
      let activation = 'linear';
      const clip = soleUser(out, 'Clip');
      const relu = soleUser(out, 'Relu');
      if (clip) {
        const [lo, hi] = clip.inputs.slice(1).map((i) => (i ? init(i).values[0] : null));
        if (lo === 0 && hi === 6) {
          activation = 'relu6';
          consumed.add(clip);
          out = clip.outputs[0];
        }
      } else if (relu) {
        activation = 'relu';
        consumed.add(relu);
        out = relu.outputs[0];
      }
      // explicit symmetric pads as a number, else TF.js's explicit [[0,0],[t,b],[l,r],[0,0]]
      const pad = pads[0] === pads[2] && pads[1] === pads[3] && pads[0] === pads[1] ? pads[0]
        : [[0, 0], [pads[0], pads[2]], [pads[1], pads[3]], [0, 0]];
      const depthwise = group > 1 && cPer === 1 && group === cOut;
      if (group > 1 && !depthwise) throw new Error('onnx→tfjs: grouped conv that is not depthwise');
      const v = w.values;
      let filter;
      if (depthwise) {
        // OIHW [C,1,kh,kw] → [kh, kw, C, 1]
        const f = new Float32Array(kh * kw * cOut);
        for (let c = 0; c < cOut; c++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) f[(y * kw + x) * cOut + c] = v[(c * kh + y) * kw + x] * scale[c];
        filter = keep(tf.tensor4d(f, [kh, kw, cOut, 1]));
      } else {
        // OIHW → HWIO
        const f = new Float32Array(kh * kw * cPer * cOut);
        for (let o = 0; o < cOut; o++) for (let i = 0; i < cPer; i++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) {
          f[((y * kw + x) * cPer + i) * cOut + o] = v[((o * cPer + i) * kh + y) * kw + x] * scale[o];
        }
        filter = keep(tf.tensor4d(f, [kh, kw, cPer, cOut]));
      }
      const b = keep(tf.tensor1d(bias));
      const args = { filter, bias: b, strides: stride, pad, activation, dataFormat: 'NHWC' };
      count(depthwise ? `depthwise_${activation}` : `conv_${activation}`);
      const [src, dst] = [n.inputs[0], out];
      steps.push((env) => env.set(dst, depthwise ? tf.fused.depthwiseConv2d({ x: env.get(src), ...args }) : tf.fused.conv2d({ x: env.get(src), ...args })));
    } else if (n.op === 'Add') {
      const [a, b2, dst] = [n.inputs[0], n.inputs[1], n.outputs[0]];
      count('add');
      steps.push((env) => env.set(dst, tf.add(env.get(a), env.get(b2))));
    } else if (n.op === 'Clip' || n.op === 'Relu') {
      const [src, dst] = [n.inputs[0], n.outputs[0]];
      count(n.op.toLowerCase());
      steps.push((env) => env.set(dst, n.op === 'Relu' ? tf.relu(env.get(src)) : tf.relu6(env.get(src))));
    } else if (n.op === 'GlobalAveragePool') {
      const [src, dst] = [n.inputs[0], n.outputs[0]];
      count('mean');
      steps.push((env) => env.set(dst, tf.mean(env.get(src), [1, 2])));
    } else if (n.op === 'Flatten' || n.op === 'Reshape') {
      const [src, dst] = [n.inputs[0], n.outputs[0]];
      steps.push((env) => env.set(dst, tf.reshape(env.get(src), [env.get(src).shape[0], -1])));
    } else if (n.op === 'Gemm') {
      const w = init(n.inputs[1]);
      const transB = n.attrs.transB?.i ?? 0;
      const [rows, cols] = w.dims;
      // y = x·Wᵀ + b with W [out, in] (transB) → a [in, out] matrix
      const m = new Float32Array(rows * cols);
      if (transB) for (let o = 0; o < rows; o++) for (let i = 0; i < cols; i++) m[i * rows + o] = w.values[o * cols + i];
      else m.set(w.values);
      const mat = keep(tf.tensor2d(m, transB ? [cols, rows] : [rows, cols]));
      const b = keep(tf.tensor1d(init(n.inputs[2]).values));
      const [src, dst] = [n.inputs[0], n.outputs[0]];
      count('matmul');
      steps.push((env) => env.set(dst, tf.fused.matMul({ a: env.get(src), b: mat, bias: b })));
    } else {
      throw new Error(`onnx→tfjs: op ${n.op} is not supported here`);
    }
  }
  // the graph's output: the last node's (BN/Clip folded into a conv keep their output names)
  const output = g.nodes[g.nodes.length - 1].outputs[0];
  return {
    ops,
    run(x) {
      return tf.tidy(() => {
        const env = new Map([[g.input, x]]);
        for (const s of steps) s(env);
        return env.get(output);
      });
    },
    dispose: () => tf.dispose(weights),
  };
}

/**
 * A TF.js engine over the ONNX `bytes` (NCHW float input of `shape` [C, H, W], transposed to NHWC
 * outside the timing): {name, load_ms, ops, run(x) → logits, time(x) → ms, free()}.
 */
export function createOnnxTfjsEngine(tf, bytes, shape, { name }) {
  const t0 = performance.now();
  const program = compileForTfjs(tf, parseOnnx(bytes));
  const load_ms = performance.now() - t0;
  let cached = null;
  // NCHW → NHWC once per input array, so `time` measures the network alone
  const input = (x) => {
    if (cached?.x !== x) {
      cached?.t.dispose();
      const [c, h, w] = shape;
      const nhwc = new Float32Array(x.length);
      for (let k = 0; k < c; k++) for (let i = 0; i < h * w; i++) nhwc[i * c + k] = x[k * h * w + i];
      cached = { x, t: tf.tensor4d(nhwc, [1, h, w, c]) };
    }
    return cached.t;
  };
  return {
    name,
    load_ms,
    ops: program.ops,
    run: (x) => {
      const y = program.run(input(x));
      const out = y.dataSync().slice();
      y.dispose();
      return out;
    },
    time: (x) => {
      const xt = input(x);
      const t = performance.now();
      const y = program.run(xt);
      y.dataSync();
      const ms = performance.now() - t;
      y.dispose();
      return ms;
    },
    free: () => {
      program.dispose();
      cached?.t.dispose();
    },
  };
}
