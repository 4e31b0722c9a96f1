"""Creates a stream and a dataset of N samples (support.make_dataset); prints {"stream", "name", "info"} as JSON."""

from __future__ import annotations

import json
import sys

import strata

from .support import make_dataset

if __name__ == "__main__":
    stream, name, info = make_dataset(strata.Client(sys.argv[1]), int(sys.argv[2]), partitions=2, span_samples=4)
    print(json.dumps({"stream": stream, "name": name, "info": info}))
