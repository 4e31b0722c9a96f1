"""Reads a dataset (unshuffled) slowly for test/python/restart.test.ts: prints "half" after half the samples and
waits for a line on stdin (the test kills and restarts the gateway meanwhile), then prints the
global indexes it read as JSON, with the order's expectation."""

from __future__ import annotations

import json
import logging
import sys

import strata
from strata import order

from .support import global_index


def main(url: str, name: str) -> None:
    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)  # the client logs each retry
    # Unshuffled, with a 1-byte read-ahead bound: at half the epoch the spans of the second half are
    # not fetched yet (a shuffled order needs every bucket's spans early), so the reader must meet the outage.
    ds = strata.Dataset(url, name, shuffle=False, rank=0, world_size=1, prefetch_bytes=1, prefetch_threads=1)
    expected = list(order.positions_for(order.DatasetOrder(ds.info, seed=0, shuffle=False).epoch(0)))
    got = []
    for sample in ds:
        got.append(global_index(ds.info, sample))
        if len(got) == len(ds) // 2:
            print("half", flush=True)
            sys.stdin.readline()
    print(json.dumps({"got": got, "expected": expected}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
