"""The Python side of bench/training.ts: one subcommand per measurement, one JSON line of results.

    prepare  URL STREAM NAME SAMPLES SIZE SHARDS   publish SAMPLES samples {"image": SIZE bytes, "label"},
                                                   pin them as dataset NAME, write the same sample maps
                                                   to local MessagePack shard files under SHARDS
    local    SHARDS PASSES                         decode the shards with msgpack.Unpacker (page cache)
    socket   SHARDS PASSES                         the shards' bytes sent over loopback TCP by a thread,
                                                   received with recv_into and decoded the same way
    dataset  URL NAME PASSES SHUFFLE [PROFILE] [PREFETCH_BYTES]
                                                   iterate strata.Dataset (optionally under cProfile)
    split    URL NAME                              where a span read's time goes: the gateway's answer
                                                   (request until the last body byte) vs the decode
    first    URL NAME TRIALS                       time from iter() to the first sample
    loader   URL NAME BATCH WORKERS PREFETCH_BYTES torch DataLoader (StatefulLoader): samples/s, wait per batch
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import time

import msgpack

import strata

SHARD_SAMPLES = 256


def _sample(i: int, size: int) -> dict:
    # Distinct bytes per sample so nothing downstream can dedupe or compress them away.
    return {"image": (i.to_bytes(4, "little") * (size // 4 + 1))[:size], "label": i % 1000}


def prepare(url: str, stream: str, name: str, samples: int, size: int, shards: str) -> dict:
    client = strata.Client(url)
    client.create_stream(stream, partitions=1)
    batch = 64
    for first in range(0, samples, batch):
        client.publish(stream, [{"fields": _sample(i, size)} for i in range(first, min(first + batch, samples))])
    info = client.create_dataset(name, stream)
    os.makedirs(shards, exist_ok=True)
    packer = msgpack.Packer(use_bin_type=True)
    for shard, first in enumerate(range(0, samples, SHARD_SAMPLES)):
        with open(os.path.join(shards, f"shard-{shard:05d}.msgpack"), "wb") as out:
            for i in range(first, min(first + SHARD_SAMPLES, samples)):
                out.write(packer.pack(_sample(i, size)))
    return {"version": info["version"], "samples": info["samples"], "bytes": info["bytes"]}


def _payload_bytes(sample: dict) -> int:
    return len(sample["image"])


def local(shards: str, passes: int) -> dict:
    files = sorted(os.path.join(shards, f) for f in os.listdir(shards))
    for path in files:  # into the page cache
        with open(path, "rb") as f:
            while f.read(16 << 20):
                pass
    runs = []
    for _ in range(passes):
        start = time.perf_counter()
        total = 0
        count = 0
        for path in files:
            with open(path, "rb") as f:
                # 1 MiB reads: the fastest read size measured here (16 MiB: 4.4 GB/s, 1 MiB: 6.5 GB/s, cache-resident buffer).
                for sample in msgpack.Unpacker(f, raw=False, read_size=1 << 20, max_buffer_size=1 << 30):
                    total += _payload_bytes(sample)
                    count += 1
        runs.append((time.perf_counter() - start, total, count))
    return _best(runs)


def socket_peer(shards: str, passes: int) -> dict:
    import socket
    import threading

    files = sorted(os.path.join(shards, f) for f in os.listdir(shards))
    blobs = []
    for path in files:
        with open(path, "rb") as f:
            blobs.append(f.read())
    runs = []
    for _ in range(passes):
        server = socket.create_server(("127.0.0.1", 0))
        sender = threading.Thread(target=_send_all, args=(server, blobs), daemon=True)
        sender.start()
        conn = socket.create_connection(server.getsockname())
        start = time.perf_counter()
        unpacker = msgpack.Unpacker(raw=False, max_buffer_size=1 << 30)
        buf = bytearray(4 << 20)
        view = memoryview(buf)
        total = 0
        count = 0
        while True:
            n = conn.recv_into(view)
            if n == 0:
                break
            unpacker.feed(view[:n])
            for sample in unpacker:
                total += _payload_bytes(sample)
                count += 1
        runs.append((time.perf_counter() - start, total, count))
        conn.close()
        sender.join()
        server.close()
    return _best(runs)


def _send_all(server, blobs: list[bytes]) -> None:
    conn, _ = server.accept()
    with conn:
        for blob in blobs:
            conn.sendall(blob)


def _best(runs: list[tuple[float, int, int]]) -> dict:
    rates = sorted(total / seconds for seconds, total, _ in runs)
    seconds, total, count = min(runs)
    return {"gbps_median": statistics.median(rates) / 1e9, "gbps_best": rates[-1] / 1e9, "samples": count, "bytes": total, "passes": len(runs)}


def dataset(url: str, name: str, passes: int, shuffle: bool, profile: str | None, prefetch_bytes: int | None = None) -> dict:
    runs = []
    profiler = cProfile.Profile() if profile else None
    for epoch in range(passes):
        extra = {} if prefetch_bytes is None else {"prefetch_bytes": prefetch_bytes}
        ds = strata.Dataset(url, name, shuffle=shuffle, epoch=epoch, rank=0, world_size=1, **extra)
        start = time.perf_counter()
        if profiler:
            profiler.enable()
        total = 0
        count = 0
        for sample in ds:
            total += _payload_bytes(sample)
            count += 1
        if profiler:
            profiler.disable()
        runs.append((time.perf_counter() - start, total, count))
        ds.client.close()
    result = _best(runs)
    if profiler and profile:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(12)
        with open(profile, "w") as out:
            out.write(text.getvalue())
    return result


def split(url: str, name: str) -> dict:
    client = strata.Client(url)
    info = client.dataset_version(name)
    session = client.session()
    step = int(info["span_samples"])
    waiting = decoding = 0.0
    total = 0
    for start in range(0, int(info["samples"]), step):
        path, _ = client.samples_request(name, int(info["version"]), start, step)
        t0 = time.perf_counter()
        response = session.request("GET", path)
        t1 = time.perf_counter()
        samples = response.decode()["samples"]
        decoding += time.perf_counter() - t1
        waiting += t1 - t0
        total += sum(_payload_bytes(s) for s in samples)
    return {"request_s": waiting, "decode_s": decoding, "bytes": total, "request_gbps": total / waiting / 1e9, "decode_gbps": total / decoding / 1e9}


def first(url: str, name: str, trials: int) -> dict:
    times = []
    for trial in range(trials):
        ds = strata.Dataset(url, name, shuffle=True, seed=trial, rank=0, world_size=1)
        start = time.perf_counter()
        it = iter(ds)
        next(it)
        times.append((time.perf_counter() - start) * 1000)
        it.close()
        ds.client.close()
    return {"ms_median": statistics.median(times), "ms_max": max(times), "trials": trials}


def loader(url: str, name: str, batch: int, workers: int, prefetch_bytes: int) -> dict:
    import strata.torch as st

    data = st.StrataDataset(url, name, batch_size=batch, shuffle=True, rank=0, world_size=1, fields=["image", "label"], prefetch_bytes=prefetch_bytes)
    load = st.StatefulLoader(data, batch_size=batch, num_workers=workers, collate_fn=_collate)
    waits = []
    count = 0
    start = time.perf_counter()
    before = start
    for images, labels in load:
        now = time.perf_counter()
        waits.append((now - before) * 1000)
        count += len(labels)
        before = time.perf_counter()
    seconds = time.perf_counter() - start
    # The first batch waits for the workers to start and their first spans: reported apart.
    first_ms, rest = waits[0], sorted(waits[1:]) or [waits[0]]
    pick = lambda q: rest[min(len(rest) - 1, int(q * len(rest)))]  # noqa: E731
    return {"samples_per_s": count / seconds, "samples": count, "batches": len(waits), "first_batch_ms": first_ms, "wait_ms_p50": pick(0.5), "wait_ms_p99": pick(0.99), "gbps": count * len(images[0]) / seconds / 1e9}


def _collate(samples: list[dict]) -> tuple[list[bytes], list[int]]:
    # The loop gets the raw bytes: decoding images is the training job's business, not the reader's.
    return [s["image"] for s in samples], [s["label"] for s in samples]


def versions() -> dict:
    import numpy

    out = {"python": sys.version.split()[0], "msgpack": ".".join(map(str, msgpack.version)), "numpy": numpy.__version__}
    try:
        import torch

        out["torch"] = torch.__version__
    except ImportError:
        out["torch"] = None
    return out


def main(argv: list[str]) -> None:
    command, args = argv[0], argv[1:]
    if command == "prepare":
        result = prepare(args[0], args[1], args[2], int(args[3]), int(args[4]), args[5])
    elif command == "local":
        result = local(args[0], int(args[1]))
    elif command == "socket":
        result = socket_peer(args[0], int(args[1]))
    elif command == "dataset":
        profile = args[4] if len(args) > 4 and args[4] != "-" else None
        result = dataset(args[0], args[1], int(args[2]), args[3] == "shuffle", profile, int(args[5]) if len(args) > 5 else None)
    elif command == "split":
        result = split(args[0], args[1])
    elif command == "first":
        result = first(args[0], args[1], int(args[2]))
    elif command == "loader":
        result = loader(args[0], args[1], int(args[2]), int(args[3]), int(args[4]))
    elif command == "versions":
        result = versions()
    else:
        raise SystemExit(f"unknown command {command!r}")
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
