"""One Python stage of a traced pipeline for test/observability/tracing-pipeline.test.ts: claims one
record of SOURCE as queue GROUP, publishes a derived record to TARGET with
``Client.publish(derived_from=)`` (the trace carried on), acks the claim, and prints where the
derived record landed as JSON."""

from __future__ import annotations

import json
import sys

import strata


def main(url: str, group: str, source: str, target: str) -> None:
    client = strata.Client(url)
    try:
        (record,) = strata.queues.claim(client, group, [source], max_records=1, wait_ms=10_000)
        (position,) = client.publish(target, [{"fields": {"stage": "python", "from": record["fields"]}}], derived_from=record)
        strata.queues.ack(client, group, [record["receipt"]])
        print(json.dumps(position))
    finally:
        client.close()


if __name__ == "__main__":
    main(*sys.argv[1:5])
