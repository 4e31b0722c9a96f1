"""One rank of the gradient bench (bench/gradients.ts): a Strata quorum all-reduce or a gloo all_reduce.

    rank.py strata URL STREAM RANK WORLD QUORUM LATE_RANK LATE_MS ELEMENTS
    rank.py gloo INIT_FILE RANK WORLD LATE_RANK LATE_MS ELEMENTS
    rank.py versions

Prints ``ready`` once set up, then for each ``step N`` line on stdin runs one all-reduce of a float32
gradient of ELEMENTS values and prints one JSON line ``{"step", "rank", "seconds", "contributors"}``;
``seconds`` is the time the rank spent in the step (from the start of the step to the mean in hand).
A Strata rank also reports ``post`` (its contribution's POST, framing included) and ``fetch`` (the
GET of the mean and its decoding), timed by wrapping those two steps of ``allreduce_quorum``; the
rest of its time after the post is the wait for the aggregator's mean.
The rank LATE_RANK sleeps LATE_MS before contributing, as a straggler would (-1: none). Each rank's
gradient is the constant rank + 1, so the mean's first value tells whether the right ranks were
averaged; a wrong mean exits the process.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np


def _steps():
    for line in sys.stdin:
        words = line.split()
        if words and words[0] == "step":
            yield int(words[1])
        elif words and words[0] == "quit":
            return


def _report(step: int, rank: int, seconds: float, contributors: list[int], **phases: float) -> None:
    print(json.dumps({"step": step, "rank": rank, "seconds": seconds, "contributors": contributors, **phases}), flush=True)


def _timed(phases: dict[str, float], name: str, function):
    """``function``, adding the seconds each call takes to ``phases[name]``."""

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            phases[name] = phases.get(name, 0.0) + time.perf_counter() - start

    return timed


def _check(step: int, first: float, contributors: list[int]) -> None:
    expected = float(np.mean([r + 1 for r in contributors]))
    if abs(first - expected) > 1e-5:
        sys.exit(f"step {step}: mean {first} is not the mean of ranks {contributors} ({expected})")


def strata_rank(url: str, stream: str, rank: int, world: int, quorum: float, late_rank: int, late_ms: int, elements: int) -> None:
    import strata
    from strata import grad

    client = strata.Client(url)
    gradient = {"g": np.full(elements, rank + 1, dtype=np.float32)}
    phases: dict[str, float] = {}
    grad.contribute = _timed(phases, "post", grad.contribute)
    grad._Cursor.fetch = _timed(phases, "fetch", grad._Cursor.fetch)  # noqa: SLF001 - instrumentation
    print("ready", flush=True)
    for step in _steps():
        phases.clear()
        start = time.perf_counter()
        if rank == late_rank:
            time.sleep(late_ms / 1000)
        mean, contributors = grad.allreduce_quorum(client, stream, step, gradient, rank, world, quorum=quorum, timeout_s=120)
        seconds = time.perf_counter() - start
        _check(step, float(mean["g"][0]), contributors)
        _report(step, rank, seconds, contributors, **phases)


def gloo_rank(init_file: str, rank: int, world: int, late_rank: int, late_ms: int, elements: int) -> None:
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    base = torch.full((elements,), float(rank + 1), dtype=torch.float32)
    tensor = base.clone()
    print("ready", flush=True)
    for step in _steps():
        tensor.copy_(base)
        start = time.perf_counter()
        if rank == late_rank:
            time.sleep(late_ms / 1000)
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        tensor.div_(world)
        seconds = time.perf_counter() - start
        _check(step, float(tensor[0]), list(range(world)))
        _report(step, rank, seconds, list(range(world)))
    dist.destroy_process_group()


def versions() -> None:
    import platform

    import msgpack
    import torch

    print(json.dumps({"python": platform.python_version(), "numpy": np.__version__, "msgpack": ".".join(map(str, msgpack.version)), "torch": torch.__version__}))


def main(argv: list[str]) -> None:
    mode = argv[0]
    if mode == "strata":
        url, stream, rank, world, quorum, late_rank, late_ms, elements = argv[1:]
        strata_rank(url, stream, int(rank), int(world), float(quorum), int(late_rank), int(late_ms), int(elements))
    elif mode == "gloo":
        init_file, rank, world, late_rank, late_ms, elements = argv[1:]
        gloo_rank(init_file, int(rank), int(world), int(late_rank), int(late_ms), int(elements))
    elif mode == "versions":
        versions()
    else:
        sys.exit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
