"""Read PyTorch checkpoints (.pth) into numpy arrays without importing torch.

Two on-disk formats exist:

* legacy (torch < 1.6): a stream of pickles -- magic number, protocol version,
  sys info, the object itself, then the list of storage keys -- followed by
  the raw storages, each as an int64 element count plus little-endian bytes,
  in the order of that key list.
* zip (torch >= 1.6): a zip archive holding `<prefix>/data.pkl` and one file
  per storage, `<prefix>/data/<key>`.

In both, tensors are pickled as calls to torch._utils._rebuild_tensor_v2 whose
first argument is a persistent id naming a storage.  We unpickle with a
restricted Unpickler that maps those torch globals to small stand-ins, then
materialise every tensor as a strided view of its storage.  Only the globals
a state dict needs are allowed, so a hostile pickle cannot run code.
"""
import collections
import io
import pickle
import struct
import zipfile

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C

# torch storage class name -> numpy dtype (little-endian on disk).
_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _StorageType:
    """Placeholder for torch.FloatStorage & co.: only its dtype matters."""

    def __init__(self, name):
        self.dtype = np.dtype(_STORAGE_DTYPES[name]).newbyteorder("<")


class _StorageRef:
    """A storage named by a persistent id; its bytes are bound later."""

    def __init__(self, dtype, key, numel):
        self.dtype, self.key, self.numel = dtype, key, numel
        self.data = None  # 1-D numpy array once loaded


class _TensorRef:
    """Deferred tensor: storage + offset + shape + strides (in elements)."""

    def __init__(self, storage, offset, shape, stride):
        self.storage, self.offset = storage, offset
        self.shape, self.stride = tuple(shape), tuple(stride)

    def to_numpy(self):
        base = self.storage.data
        if not self.shape:
            return base[self.offset].copy()
        item = base.itemsize
        view = np.lib.stride_tricks.as_strided(
            base[self.offset:],
            shape=self.shape,
            strides=tuple(s * item for s in self.stride),
        )
        # Copy into a native-endian contiguous array we own.
        return np.ascontiguousarray(view.astype(base.dtype.newbyteorder("=")))


def _rebuild_tensor_v2(storage, offset, size, stride, *_ignored):
    return _TensorRef(storage, offset, size, stride)


def _rebuild_parameter(data, *_ignored):
    return data


class _Unpickler(pickle.Unpickler):
    def __init__(self, f, storages):
        super().__init__(f)
        self._storages = storages  # key -> _StorageRef, shared across calls

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"refusing global {module}.{name}")

    def persistent_load(self, pid):
        # legacy: ('storage', type, key, location, numel, view_metadata)
        # zip:    ('storage', type, key, location, numel)
        if pid[0] != "storage":
            raise pickle.UnpicklingError(f"unknown persistent id {pid[0]!r}")
        stype, key, numel = pid[1], str(pid[2]), pid[4]
        if len(pid) > 5 and pid[5] is not None:
            raise pickle.UnpicklingError("storage views are not supported")
        ref = self._storages.get(key)
        if ref is None:
            ref = self._storages[key] = _StorageRef(stype.dtype, key, numel)
        return ref


def _materialise(obj):
    """Replace every _TensorRef in a (nested) container with a numpy array."""
    if isinstance(obj, _TensorRef):
        return obj.to_numpy()
    if isinstance(obj, dict):
        return collections.OrderedDict((k, _materialise(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_materialise(v) for v in obj)
    return obj


def _load_legacy(raw):
    f = io.BytesIO(raw)  # no peek(): the unpickler reads exactly what it needs
    storages = {}
    if pickle.load(f) != LEGACY_MAGIC:
        raise ValueError("not a legacy torch file")
    pickle.load(f)  # protocol version
    pickle.load(f)  # sys info (endianness, type sizes)
    obj = _Unpickler(f, storages).load()
    keys = pickle.load(f)
    for key in keys:
        ref = storages[str(key)]
        (numel,) = struct.unpack("<q", f.read(8))
        nbytes = numel * ref.dtype.itemsize
        ref.data = np.frombuffer(f.read(nbytes), dtype=ref.dtype, count=numel)
    return obj


def _load_zip(path):
    with zipfile.ZipFile(path) as z:
        pkl = next(n for n in z.namelist() if n.endswith("/data.pkl") or n == "data.pkl")
        prefix = pkl[: -len("data.pkl")]
        storages = {}
        obj = _Unpickler(io.BytesIO(z.read(pkl)), storages).load()
        for key, ref in storages.items():
            buf = z.read(f"{prefix}data/{key}")
            ref.data = np.frombuffer(buf, dtype=ref.dtype, count=ref.numel)
    return obj


def load(path):
    """Load a .pth file; returns the pickled object with tensors as numpy arrays."""
    if zipfile.is_zipfile(path):
        obj = _load_zip(path)
    else:
        with open(path, "rb") as fh:
            obj = _load_legacy(fh.read())
    return _materialise(obj)


def load_state_dict(path):
    """Load a checkpoint and return a flat name -> np.ndarray dict."""
    obj = load(path)
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    return collections.OrderedDict((k, v) for k, v in obj.items() if isinstance(v, np.ndarray))
