"""strata.params against a real gateway: a compacted stream's latest map, watched while a coordinator sets it.

test/python/training-coordination.test.ts runs this module against a gateway process.
"""

from __future__ import annotations

import queue
import threading
import unittest

import strata
from strata import params

from .support import gateway_url, unique

# Long enough for a loaded machine; each wait ends as soon as the change arrives.
_WAIT_S = 30


class ParamsTest(unittest.TestCase):
    def setUp(self) -> None:
        self.client = strata.Client(gateway_url())
        self.stream = unique("py/params")
        params.create(self.client, self.stream)

    def tearDown(self) -> None:
        self.client.close()

    def test_latest_per_key(self) -> None:
        params.set(self.client, self.stream, "lr", {"value": 0.1})
        params.set(self.client, self.stream, "lr", {"value": 0.05})
        params.set(self.client, self.stream, "schedule", {"name": "cosine"})
        self.assertEqual(params.latest(self.client, self.stream), {"lr": {"value": 0.05}, "schedule": {"name": "cosine"}})
        self.assertEqual(params.latest(self.client, self.stream, key="schedule"), {"schedule": {"name": "cosine"}})

    def test_tombstone_removes_the_key(self) -> None:
        params.set(self.client, self.stream, "warmup", {"steps": 100})
        params.set(self.client, self.stream, "lr", {"value": 0.1})
        params.set(self.client, self.stream, "warmup", None)
        self.assertEqual(params.latest(self.client, self.stream), {"lr": {"value": 0.1}})
        self.assertEqual(params.latest(self.client, self.stream, key="warmup"), {})

    def test_watch_sees_each_change_in_order(self) -> None:
        """A coordinator thread lowers the learning rate step by step; the watcher sees every value."""
        params.set(self.client, self.stream, "lr", {"value": 1.0})
        seen: "queue.Queue[dict]" = queue.Queue()
        stop = threading.Event()

        def watcher() -> None:
            client = strata.Client(gateway_url())
            try:
                for current in params.watch(client, self.stream, wait_ms=1_000):
                    seen.put(current)
                    if stop.is_set():
                        return
            except BaseException as error:  # noqa: BLE001 - handed to the test thread
                seen.put({"error": repr(error)})

        thread = threading.Thread(target=watcher, daemon=True)
        thread.start()
        self.assertEqual(seen.get(timeout=_WAIT_S), {"lr": {"value": 1.0}})
        values = [0.5, 0.25, 0.125, 0.0625]

        def coordinator() -> None:
            coordinator_client = strata.Client(gateway_url())
            for value in values:
                params.set(coordinator_client, self.stream, "lr", {"value": value})
                acknowledged.get(timeout=_WAIT_S)  # the next change once this one was seen

        acknowledged: "queue.Queue[None]" = queue.Queue()
        setter = threading.Thread(target=coordinator, daemon=True)
        setter.start()
        for value in values:
            self.assertEqual(seen.get(timeout=_WAIT_S), {"lr": {"value": value}})
            acknowledged.put(None)
        setter.join(_WAIT_S)
        # A tombstone is a change too: the key leaves the watched map.
        stop.set()
        params.set(self.client, self.stream, "lr", None)
        self.assertEqual(seen.get(timeout=_WAIT_S), {})
        thread.join(_WAIT_S)
        self.assertFalse(thread.is_alive())


if __name__ == "__main__":
    unittest.main()
