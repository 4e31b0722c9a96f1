"""Client-built batches: the stored batch format (core/log/batch.ts) laid out by the publisher.

The gateway validates such a batch and appends its bytes without decoding and re-encoding each
record (``POST /v1/streams/{name}/records`` with ``Content-Type: application/vnd.strata.batch``).
Header, 64 bytes little-endian: magic "STRB", length, base offset (0: the log assigns it), CRC32C
of bytes [20, length), version 1, attributes (bit 0: producer), record count, first and max
timestamp (0: the gateway stamps its clock), producer id, epoch, base sequence. Each record is the
MessagePack array [0, key, headers, fields].
"""

from __future__ import annotations

import struct
from typing import Any, Mapping, Sequence

import numpy as np

CLIENT_BATCH_MEDIA_TYPE = "application/vnd.strata.batch"
_MAGIC = 0x42525453
_HEADER = struct.Struct("<IIQIBBHIIQQQHHI")
_POLY = 0x82F63B78  # Castagnoli, reflected


def _table() -> list[int]:
    table = []
    for b in range(256):
        c = b
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _table()
_TABLE_NP = np.array(_TABLE, dtype=np.uint32)


def _update(crc: int, data: bytes | memoryview) -> int:
    """The raw CRC register after ``data`` (no initial or final inversion)."""
    table = _TABLE
    for byte in bytes(data):
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc


def _mult_mod_p(a: int, b: int) -> int:
    """a * b modulo the CRC polynomial, both in reflected form (bit 31 is x^0)."""
    m = 1 << 31
    p = 0
    while True:
        if a & m:
            p ^= b
            if a & (m - 1) == 0:
                return p
        m >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1


def _x_pow_8n(n: int) -> int:
    """x^(8n) modulo the polynomial: what carrying a register through n zero bytes multiplies by."""
    result, square, k = 1 << 31, 1 << 30, 0  # x^0, x^1
    power = 8 * n
    while power:
        if power & 1:
            result = _mult_mod_p(square, result)
        square = _mult_mod_p(square, square)
        power >>= 1
        k += 1
    return result


_LANE = 2048
_LANE_SHIFT = _x_pow_8n(_LANE)


def crc32c(data: bytes | bytearray | memoryview) -> int:
    """CRC32C (Castagnoli) of ``data``, as core/hashing/crc32c.ts computes it.

    Table-driven. Large inputs are cut into lanes of 2 KiB whose registers numpy advances side by
    side, then chained (CRC is linear: a register carried through a lane is one multiplication),
    so a 1 MiB batch costs milliseconds rather than a Python loop over every byte.
    """
    view = memoryview(data).cast("B")
    lanes = len(view) // _LANE
    crc = 0xFFFFFFFF
    if lanes >= 4:
        block = np.frombuffer(view, dtype=np.uint8, count=lanes * _LANE).reshape(lanes, _LANE)
        registers = np.zeros(lanes, dtype=np.uint32)
        for j in range(_LANE):
            registers = _TABLE_NP[(registers ^ block[:, j]) & 0xFF] ^ (registers >> 8)
        for register in registers.tolist():
            crc = _mult_mod_p(_LANE_SHIFT, crc) ^ register
        view = view[lanes * _LANE :]
    return _update(crc, view) ^ 0xFFFFFFFF


def client_batch(encoded_records: Sequence[bytes], producer: Mapping[str, int] | None = None) -> bytes:
    """One batch around records already encoded as the MessagePack array [0, key, headers, fields]."""
    records = b"".join(encoded_records)
    length = _HEADER.size + len(records)
    pid, epoch, seq = (producer["id"], producer["epoch"], producer["seq"]) if producer else (0, 0, 0)
    header = bytearray(_HEADER.pack(_MAGIC, length, 0, 0, 1, 1 if producer else 0, 0, len(encoded_records), 0, 0, 0, pid, epoch, 0, seq))
    crc = crc32c(memoryview(header)[20:] if not records else bytes(header[20:]) + records)
    struct.pack_into("<I", header, 16, crc)
    return bytes(header) + records


def record_array(record: Mapping[str, Any]) -> list[Any]:
    """A publish record (dict with fields, optional key and headers) as a stored record's array; a str key is UTF-8."""
    key = record.get("key")
    if isinstance(key, str):
        key = key.encode("utf-8")
    return [0, key, dict(record.get("headers") or {}), record["fields"]]
