"""MessagePack with Strata's extension types (core/log/extensions.ts).

    type 1  Tensor       payload: msgpack [dtype: str, shape: int[], data: bin]
    type 2  ArtefactRef  payload: msgpack [manifest: bin(32), size: uint, mediaType: str]

Tensors decode to writable numpy arrays (little-endian, safetensors dtype names); BF16 has no
numpy dtype and decodes as ``uint16`` bit patterns, or as a ``torch.bfloat16`` tensor with
``tensor_format="torch"``. Numpy arrays (and torch tensors) encode as Tensor values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import msgpack
import numpy as np

from .errors import StrataError

TENSOR_EXT_TYPE = 1
ARTEFACT_REF_EXT_TYPE = 2

# safetensors dtype name -> numpy dtype. F16/BF16/F8 without a numpy float type read as bit patterns.
_NUMPY_OF: dict[str, np.dtype] = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"),
    "U32": np.dtype("<u4"),
    "U16": np.dtype("<u2"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
    "F8_E4M3": np.dtype("u1"),
    "F8_E5M2": np.dtype("u1"),
}

# numpy dtype kind+size -> safetensors name, for encoding arrays.
_NAME_OF: dict[tuple[str, int], str] = {
    ("f", 8): "F64",
    ("f", 4): "F32",
    ("f", 2): "F16",
    ("i", 8): "I64",
    ("i", 4): "I32",
    ("i", 2): "I16",
    ("i", 1): "I8",
    ("u", 8): "U64",
    ("u", 4): "U32",
    ("u", 2): "U16",
    ("u", 1): "U8",
    ("b", 1): "BOOL",
}


@dataclass(frozen=True)
class Tensor:
    """A tensor with an explicit dtype name, for dtypes numpy lacks (``Tensor("BF16", shape, raw)``)."""

    dtype: str
    shape: tuple[int, ...]
    data: bytes


@dataclass(frozen=True)
class ArtefactRef:
    """A content-addressed artefact a record points to: manifest id (hex), size, media type."""

    manifest: str
    size: int
    media_type: str


def _tensor_ext(dtype: str, shape: list[int] | tuple[int, ...], data: bytes | memoryview) -> msgpack.ExtType:
    return msgpack.ExtType(TENSOR_EXT_TYPE, msgpack.packb([dtype, list(shape), data], use_bin_type=True))


def _encode_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        name = _NAME_OF.get((value.dtype.kind, value.dtype.itemsize))
        if name is None:
            raise StrataError("BAD_REQUEST", f"numpy dtype {value.dtype} has no Strata tensor dtype")
        little = value.astype(value.dtype.newbyteorder("<"), copy=False)
        return _tensor_ext(name, value.shape, memoryview(np.ascontiguousarray(little)).cast("B"))
    if isinstance(value, Tensor):
        return _tensor_ext(value.dtype, value.shape, value.data)
    if isinstance(value, ArtefactRef):
        payload = msgpack.packb([bytes.fromhex(value.manifest), value.size, value.media_type], use_bin_type=True)
        return msgpack.ExtType(ARTEFACT_REF_EXT_TYPE, payload)
    if isinstance(value, np.generic):
        return value.item()
    torch_value = _torch_to_ext(value)
    if torch_value is not None:
        return torch_value
    raise TypeError(f"cannot encode {type(value).__name__} as a Strata field value")


def _torch_to_ext(value: Any) -> msgpack.ExtType | None:
    torch = _torch_if_loaded()
    if torch is None or not isinstance(value, torch.Tensor):
        return None
    cpu = value.detach().cpu().contiguous()
    if cpu.dtype == torch.bfloat16:
        bits = cpu.view(torch.int16).numpy().view("<u2")
        return _tensor_ext("BF16", tuple(cpu.shape), memoryview(bits).cast("B"))
    return _encode_default(cpu.numpy())


def _torch_if_loaded() -> Any:
    import sys

    return sys.modules.get("torch")


def pack(value: Any) -> bytes:
    """MessagePack bytes of a value, with numpy arrays, torch tensors, Tensor and ArtefactRef as extensions."""
    return msgpack.packb(value, use_bin_type=True, default=_encode_default)


def make_ext_hook(tensor_format: str = "numpy") -> Callable[[int, bytes], Any]:
    """The ext_hook for msgpack's decoders: Tensor -> writable numpy array (or torch tensor), ArtefactRef."""
    if tensor_format not in ("numpy", "torch"):
        raise StrataError("BAD_REQUEST", f'tensor_format must be "numpy" or "torch", not {tensor_format!r}')
    as_torch = tensor_format == "torch"
    if as_torch:
        import torch  # noqa: F401  (fail early when asked for torch tensors without torch)

    def ext_hook(code: int, data: bytes) -> Any:
        if code == TENSOR_EXT_TYPE:
            return _decode_tensor(data, as_torch)
        if code == ARTEFACT_REF_EXT_TYPE:
            manifest, size, media_type = msgpack.unpackb(data, raw=False)
            return ArtefactRef(bytes(manifest).hex(), size, media_type)
        return msgpack.ExtType(code, data)

    return ext_hook


def _decode_tensor(payload: bytes, as_torch: bool) -> Any:
    dtype, shape, data = msgpack.unpackb(payload, raw=False)
    name = str(dtype).upper()
    np_dtype = _NUMPY_OF.get(name)
    if np_dtype is None:
        raise StrataError("CORRUPT_DATA", f"unknown tensor dtype {dtype!r}")
    # A bytearray owns its memory, so the array is writable (torch.from_numpy wants that) at one copy.
    array = np.frombuffer(bytearray(data), dtype=np_dtype).reshape(shape)
    if not as_torch:
        return array
    import torch

    if name == "BF16":
        return torch.from_numpy(array.view(np.int16)).view(torch.bfloat16)
    if name in ("U16", "U32", "U64"):
        return array  # torch has no unsigned 16-64 bit dtypes: these stay numpy arrays
    return torch.from_numpy(array)


_DEFAULT_HOOK = make_ext_hook()


def unpack(data: bytes | bytearray | memoryview, tensor_format: str = "numpy") -> Any:
    """Decodes one MessagePack value (strings as str, bin as bytes, extensions as above)."""
    hook = _DEFAULT_HOOK if tensor_format == "numpy" else make_ext_hook(tensor_format)
    return msgpack.unpackb(data, raw=False, ext_hook=hook, strict_map_key=False)
