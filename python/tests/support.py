"""Shared pieces of the Python tests: the gateway URL, unique names, sample records."""

from __future__ import annotations

import os
import uuid

import numpy as np

import strata


def gateway_url() -> str:
    url = os.environ.get("STRATA_URL")
    if not url:
        raise RuntimeError("STRATA_URL names the gateway these tests run against (test/python/*.test.ts sets it)")
    return url


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def sample_record(i: int, partition: int) -> dict:
    """Sample i: its number, a label, bytes and a small float tensor derived from i."""
    return {
        "partition": partition,
        "key": f"k{i}",
        "fields": {
            "i": i,
            "label": "even" if i % 2 == 0 else "odd",
            "blob": bytes([i % 256]) * 16,
            "x": np.full((2, 3), i, dtype=np.float32),
        },
    }


def make_dataset(client: strata.Client, samples: int, partitions: int = 3, span_samples: int | None = None, **kwargs) -> tuple[str, str, dict]:
    """A stream of `samples` records spread over partitions, and a dataset version pinning it."""
    stream = unique("py/stream")
    name = unique("py-dataset")
    client.create_stream(stream, partitions=partitions)
    client.publish(stream, [sample_record(i, i % partitions) for i in range(samples)])
    info = client.create_dataset(name, stream, span_samples=span_samples, **kwargs)
    return stream, name, info


def global_index(info: dict, sample: dict) -> int:
    """The global index of a sample made by make_dataset: record i sits at partition i % P, offset i // P."""
    partitions = info["partitions"]
    i = sample["i"]
    p = i % len(partitions)
    part = next(q for q in partitions if q["partition"] == p)
    return part["first_index"] + (i // len(partitions) - part["start"])


def interleave(per_rank: list[list[int]]) -> list[int]:
    """Rank r's k-th sample is global position k * R + r: the ranks' sequences merged by position."""
    out: list[int] = []
    for k in range(min(len(seq) for seq in per_rank)):
        out.extend(seq[k] for seq in per_rank)
    return out
