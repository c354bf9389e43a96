"""A small GGUF reader in numpy, written from the spec (ggml docs/gguf.md) independently of the
Rust one in src/import/gguf, so that each checks the other: metadata, tensor infos and a
vectorised dequantization of F32, F16, Q4_0, Q4_1, Q8_0, Q4_K and Q6_K.

    python llm_gguf.py FILE.gguf      prints the metadata (arrays abbreviated) and tensor table
"""
import struct
import sys

import numpy as np

# value type -> (struct format, size) for the fixed-size scalars
SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
           10: "<Q", 11: "<q", 12: "<d"}
NUMPY = {0: "<u1", 1: "<i1", 2: "<u2", 3: "<i2", 4: "<u4", 5: "<i4", 6: "<f4", 7: "u1",
         10: "<u8", 11: "<i8", 12: "<f8"}
STRING, ARRAY = 8, 9
VALUE_TYPE_NAMES = {0: "u8", 1: "i8", 2: "u16", 3: "i16", 4: "u32", 5: "i32", 6: "f32", 7: "bool",
                    8: "string", 9: "array", 10: "u64", 11: "i64", 12: "f64"}

# ggml type -> (name, weights per block, bytes per block)
TYPES = {0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20),
         8: ("Q8_0", 32, 34), 12: ("Q4_K", 256, 144), 14: ("Q6_K", 256, 210)}


class Reader:
    def __init__(self, buf):
        self.b = buf
        self.p = 0

    def take(self, n):
        if self.p + n > len(self.b):
            raise ValueError(f"truncated at byte {self.p} (wanted {n})")
        out = self.b[self.p:self.p + n]
        self.p += n
        return out

    def scalar(self, t):
        fmt = SCALARS[t]
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self):
        n = self.scalar(10)
        return bytes(self.take(n)).decode("utf-8")

    def value(self, t):
        if t == STRING:
            return self.string()
        if t == ARRAY:
            et = self.scalar(4)
            n = self.scalar(10)
            if et in NUMPY:
                size = np.dtype(NUMPY[et]).itemsize
                arr = np.frombuffer(self.take(n * size), dtype=NUMPY[et])
                return ("array", et, arr.astype(bool) if et == 7 else arr)
            return ("array", et, [self.value(et) for _ in range(n)])
        return self.scalar(t)


def read(path):
    """(version, metadata {key: (type, value)}, tensors [dict], data_start, bytes)"""
    with open(path, "rb") as f:
        buf = memoryview(f.read())
    r = Reader(buf)
    if bytes(r.take(4)) != b"GGUF":
        raise ValueError("bad magic")
    version = r.scalar(4)
    if version not in (2, 3):
        raise ValueError(f"version {version}")
    n_tensors = r.scalar(10)
    n_kv = r.scalar(10)
    meta = {}
    for _ in range(n_kv):
        key = r.string()
        t = r.scalar(4)
        meta[key] = (t, r.value(t))
    tensors = []
    for _ in range(n_tensors):
        name = r.string()
        nd = r.scalar(4)
        dims = [r.scalar(10) for _ in range(nd)]
        ty = r.scalar(4)
        off = r.scalar(10)
        tensors.append({"name": name, "dims": dims, "type": ty, "offset": off})
    align = meta.get("general.alignment", (4, 32))[1]
    data_start = (r.p + align - 1) // align * align
    return version, meta, tensors, data_start, buf


def raw(t, data_start, buf):
    name, bw, bb = TYPES[t["type"]]
    n = int(np.prod(t["dims"], dtype=np.int64))
    assert n % bw == 0, (t["name"], n, bw)
    nbytes = n // bw * bb
    start = data_start + t["offset"]
    return np.frombuffer(buf[start:start + nbytes], dtype=np.uint8)


def f16(b):
    """uint8 (..., 2) little-endian -> float32"""
    return np.ascontiguousarray(b).view("<f2").astype(np.float32)[..., 0]


def dequantize(t, data_start, buf):
    """float32 array, flat in file order (dims[0] fastest)."""
    name, bw, bb = TYPES[t["type"]]
    b = raw(t, data_start, buf)
    if name == "F32":
        return b.view("<f4").astype(np.float32)
    if name == "F16":
        return b.view("<f2").astype(np.float32)
    blk = b.reshape(-1, bb)
    if name in ("Q4_0", "Q4_1"):
        d = f16(blk[:, 0:2])[:, None]
        qs = blk[:, 2:18] if name == "Q4_0" else blk[:, 4:20]
        q = np.concatenate([qs & 15, qs >> 4], axis=1).astype(np.float32)  # (nb, 32)
        if name == "Q4_0":
            return ((q - 8) * d).reshape(-1)
        m = f16(blk[:, 2:4])[:, None]
        return (q * d + m).reshape(-1)
    if name == "Q8_0":
        d = f16(blk[:, 0:2])[:, None]
        q = blk[:, 2:34].view(np.int8).astype(np.float32)
        return (q * d).reshape(-1)
    if name == "Q4_K":
        d = f16(blk[:, 0:2])[:, None]
        dmin = f16(blk[:, 2:4])[:, None]
        s = blk[:, 4:16].astype(np.int32)  # 12 bytes of packed 6-bit scales and mins
        sc = np.zeros((len(blk), 8), np.int32)
        mn = np.zeros((len(blk), 8), np.int32)
        sc[:, :4] = s[:, 0:4] & 63
        mn[:, :4] = s[:, 4:8] & 63
        sc[:, 4:] = (s[:, 8:12] & 15) | ((s[:, 0:4] >> 6) << 4)
        mn[:, 4:] = (s[:, 8:12] >> 4) | ((s[:, 4:8] >> 6) << 4)
        qs = blk[:, 16:144].reshape(-1, 4, 32)  # 4 groups of 32 bytes -> 64 weights each
        q = np.stack([qs & 15, qs >> 4], axis=2).reshape(-1, 8, 32).astype(np.float32)
        out = d[:, :, None] * sc[:, :, None] * q - dmin[:, :, None] * mn[:, :, None]
        return out.reshape(-1).astype(np.float32)
    if name == "Q6_K":
        ql = blk[:, 0:128].reshape(-1, 2, 64).astype(np.int32)    # per half of 128 weights
        qh = blk[:, 128:192].reshape(-1, 2, 32).astype(np.int32)
        sc = blk[:, 192:208].view(np.int8).reshape(-1, 16).astype(np.float32)
        d = f16(blk[:, 208:210])
        q = np.zeros((len(blk), 2, 128), np.int32)
        q[:, :, 0:32] = (ql[:, :, 0:32] & 15) | (((qh >> 0) & 3) << 4)
        q[:, :, 32:64] = (ql[:, :, 32:64] & 15) | (((qh >> 2) & 3) << 4)
        q[:, :, 64:96] = (ql[:, :, 0:32] >> 4) | (((qh >> 4) & 3) << 4)
        q[:, :, 96:128] = (ql[:, :, 32:64] >> 4) | (((qh >> 6) & 3) << 4)
        q = (q - 32).reshape(-1, 16, 16).astype(np.float32)  # 16 groups of 16, one scale each
        out = d[:, None, None] * sc[:, :, None] * q
        return out.reshape(-1).astype(np.float32)
    raise ValueError(f"{t['name']}: type {name} not handled")


def _pack_value(t, v):
    if t == STRING:
        b = v.encode("utf-8")
        return struct.pack("<Q", len(b)) + b
    if t == ARRAY:
        _, et, items = v
        head = struct.pack("<IQ", et, len(items))
        if et in NUMPY:
            return head + np.asarray(items).astype(NUMPY[et]).tobytes()
        return head + b"".join(_pack_value(et, x) for x in items)
    return struct.pack(SCALARS[t], v)


def write(path, meta, tensors, align=32):
    """GGUF v3. meta: {key: (type, value)} as read() returns them; tensors: [(name, dims,
    ggml type, raw bytes)], laid out in order, each at an `align`-multiple offset."""
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(meta)))
    for k, (t, v) in meta.items():
        out += _pack_value(STRING, k) + struct.pack("<I", t) + _pack_value(t, v)
    offset = 0
    layout = []
    for name, dims, ty, data in tensors:
        out += _pack_value(STRING, name) + struct.pack("<I", len(dims))
        out += b"".join(struct.pack("<Q", d) for d in dims) + struct.pack("<IQ", ty, offset)
        layout.append((offset, data))
        offset = (offset + len(data) + align - 1) // align * align
    out += bytes(-len(out) % align)
    base = len(out)
    for off, data in layout:
        out += bytes(base + off - len(out))
        out += data
    with open(path, "wb") as f:
        f.write(out)


def show(v):
    if isinstance(v, tuple) and v[0] == "array":
        items = list(v[2][:5])
        return f"[{VALUE_TYPE_NAMES[v[1]]} x {len(v[2])}] {items}..."
    s = repr(v)
    return s if len(s) < 200 else s[:200] + "..."


if __name__ == "__main__":
    version, meta, tensors, data_start, buf = read(sys.argv[1])
    print(f"version {version}, {len(meta)} kv, {len(tensors)} tensors, data at {data_start}")
    for k, (t, v) in meta.items():
        print(f"  {k} ({VALUE_TYPE_NAMES[t]}): {show(v)}")
    for t in tensors:
        print(f"  {t['name']} {t['dims']} {TYPES.get(t['type'], (t['type'],))[0]} @ {t['offset']}")
