"""Minimal decoder for TensorFlow 1.x frozen GraphDef files (.pb), no TF needed.

A frozen graph is a `GraphDef` protobuf whose weights live in `Const` nodes.
We decode the protobuf wire format by hand and only the messages we need:

  GraphDef        1: node (repeated NodeDef)
  NodeDef         1: name  2: op  3: input (repeated)  4: device  5: attr (map)
  AttrValue       1: list  2: s  3: i  4: f  5: b  6: type  7: shape  8: tensor
  AttrValue.List  2: s  3: i  4: f  5: b  6: type  7: shape  8: tensor (all repeated)
  TensorProto     1: dtype  2: tensor_shape  4: tensor_content  5: float_val
                  6: double_val  7: int_val  10: int64_val
  TensorShapeProto 2: dim (repeated Dim{1: size})

Field numbers are from tensorflow/core/framework/*.proto.  Anything else is
skipped by wire type, so unknown fields never break decoding.
"""
import struct
from dataclasses import dataclass, field

import numpy as np

# tensorflow DataType enum values -> numpy dtypes (only those that matter here).
DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 5: np.int16,
          6: np.int8, 9: np.int64, 10: np.bool_}


def _varint(buf, pos):
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def _fields(buf):
    """Yield (field_number, wire_type, value) for one serialized message.

    value is an int for varints, bytes (memoryview) for length-delimited
    fields, and raw 4/8 byte slices for fixed32/fixed64.
    """
    buf = memoryview(buf)
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _varint(buf, pos)
        num, wt = key >> 3, key & 7
        if wt == 0:
            val, pos = _varint(buf, pos)
        elif wt == 1:
            val, pos = buf[pos:pos + 8], pos + 8
        elif wt == 2:
            n, pos = _varint(buf, pos)
            val, pos = buf[pos:pos + n], pos + n
        elif wt == 5:
            val, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wt}")
        yield num, wt, val


def _signed64(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def _packed_varints(val, wt):
    """Repeated ints may be packed (wire type 2) or one per field (wire type 0)."""
    if wt == 0:
        return [_signed64(val)]
    out, pos, buf = [], 0, val
    while pos < len(buf):
        v, pos = _varint(buf, pos)
        out.append(_signed64(v))
    return out


def _packed_fixed(val, wt, fmt):
    size = struct.calcsize(fmt)
    return list(struct.unpack(f"<{len(val) // size}{fmt}", val))


def _shape(buf):
    dims = []
    for num, _, val in _fields(buf):
        if num == 2:  # Dim
            size = 0
            for n2, _, v2 in _fields(val):
                if n2 == 1:
                    size = _signed64(v2)
            dims.append(size)
    return tuple(dims)


def decode_tensor(buf):
    """TensorProto -> numpy array (C order, shape from tensor_shape)."""
    dtype, shape, content = 1, (), None
    floats, doubles, ints = [], [], []
    for num, wt, val in _fields(buf):
        if num == 1:
            dtype = val
        elif num == 2:
            shape = _shape(val)
        elif num == 4:
            content = bytes(val)
        elif num == 5:
            floats += _packed_fixed(val, wt, "f")
        elif num == 6:
            doubles += _packed_fixed(val, wt, "d")
        elif num in (7, 10):
            ints += _packed_varints(val, wt)
    np_dtype = np.dtype(DTYPES[dtype])
    count = int(np.prod(shape)) if shape else 1
    if content is not None:
        arr = np.frombuffer(content, dtype=np_dtype.newbyteorder("<")).astype(np_dtype)
    else:
        vals = floats or doubles or ints
        arr = np.array(vals, dtype=np_dtype)
        # Protobuf stores a tensor filled with one value as a single element.
        if arr.size == 1 and count > 1:
            arr = np.full(count, arr[0], dtype=np_dtype)
    return arr.reshape(shape)


def _attr_list(buf):
    out = []
    for num, wt, val in _fields(buf):
        if num == 2:
            out.append(bytes(val).decode())
        elif num == 3:
            out += _packed_varints(val, wt)
        elif num == 4:
            out += _packed_fixed(val, wt, "f")
        elif num in (5, 6):
            out += _packed_varints(val, wt)
        elif num == 7:
            out.append(_shape(val))
        elif num == 8:
            out.append(decode_tensor(val))
    return out


def _attr_value(buf):
    for num, wt, val in _fields(buf):
        if num == 1:
            return _attr_list(val)
        if num == 2:
            return bytes(val).decode("utf-8", "replace")
        if num == 3:
            return _signed64(val)
        if num == 4:
            return struct.unpack("<f", val)[0]
        if num in (5, 6):
            return val
        if num == 7:
            return _shape(val)
        if num == 8:
            return decode_tensor(val)
    return None


@dataclass
class Node:
    name: str
    op: str
    inputs: list = field(default_factory=list)
    attr: dict = field(default_factory=dict)


def _node(buf):
    node = Node("", "")
    for num, _, val in _fields(buf):
        if num == 1:
            node.name = bytes(val).decode()
        elif num == 2:
            node.op = bytes(val).decode()
        elif num == 3:
            node.inputs.append(bytes(val).decode())
        elif num == 5:  # map entry: key = 1, value = 2
            key, value = None, None
            for n2, _, v2 in _fields(val):
                if n2 == 1:
                    key = bytes(v2).decode()
                elif n2 == 2:
                    value = _attr_value(v2)
            node.attr[key] = value
    return node


class Graph:
    """Nodes by name, plus helpers to follow inputs and read constants."""

    def __init__(self, nodes):
        self.nodes = {n.name: n for n in nodes}
        self.order = [n.name for n in nodes]

    @classmethod
    def load(cls, path):
        with open(path, "rb") as f:
            data = f.read()
        return cls([_node(val) for num, _, val in _fields(data) if num == 1])

    def node(self, ref):
        """Node for an input reference like 'name', 'name:0' or '^name'."""
        return self.nodes[ref.lstrip("^").split(":")[0]]

    def const(self, ref):
        """Value of a Const, following Identity nodes (frozen graphs use them)."""
        n = self.node(ref)
        while n.op == "Identity":
            n = self.node(n.inputs[0])
        if n.op != "Const":
            raise ValueError(f"{n.name} is {n.op}, not Const")
        return n.attr["value"]
