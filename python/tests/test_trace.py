"""strata.trace: traceparent parsing, derived headers, and Client.publish(derived_from=) against a gateway."""

from __future__ import annotations

import unittest

import strata
from strata.trace import child_traceparent, derived_headers, parse_traceparent

from .support import gateway_url, unique

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class TraceparentTest(unittest.TestCase):
    def test_parses_only_strict_version_00(self) -> None:
        self.assertEqual(parse_traceparent(VALID), ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 1))
        for bad in (VALID.upper(), "01" + VALID[2:], VALID + "-x", f"00-{'0' * 32}-00f067aa0ba902b7-01", f"00-4bf92f3577b34da6a3ce929d0e0e4736-{'0' * 16}-01", VALID.encode(), None, ""):
            self.assertIsNone(parse_traceparent(bad), bad)

    def test_child_keeps_the_trace_and_a_missing_parent_starts_one(self) -> None:
        child = parse_traceparent(child_traceparent(VALID))
        assert child is not None
        self.assertEqual(child[0], "4bf92f3577b34da6a3ce929d0e0e4736")
        self.assertNotEqual(child[1], "00f067aa0ba902b7")
        self.assertEqual(child[2], 1)
        fresh = parse_traceparent(child_traceparent(None))
        assert fresh is not None
        self.assertNotEqual(fresh[0], "4bf92f3577b34da6a3ce929d0e0e4736")

    def test_derived_headers_name_the_source(self) -> None:
        claimed = {"stream": "a/b", "partition": 2, "offset": 9, "headers": {"traceparent": VALID}}
        self.assertEqual(derived_headers(claimed)["strata-source"], "a/b/2/9")
        self.assertEqual(derived_headers({"offset": 1, "headers": {}}, "s", 0)["strata-source"], "s/0/1")
        with self.assertRaises(strata.StrataError) as raised:
            derived_headers({"offset": 1, "headers": {}})
        self.assertEqual(raised.exception.code, "BAD_REQUEST")


class DerivedPublishTest(unittest.TestCase):
    def setUp(self) -> None:
        self.client = strata.Client(gateway_url())

    def tearDown(self) -> None:
        self.client.close()

    def test_publish_derived_from_a_claimed_record_carries_the_trace(self) -> None:
        source, target = unique("py/trace-src"), unique("py/trace-dst")
        self.client.create_stream(source)
        self.client.create_stream(target)
        self.client.publish(source, [{"fields": {"n": 1}, "headers": {"traceparent": VALID}}])
        group = unique("py-trace")
        (claimed,) = strata.queues.claim(self.client, group, [source], max_records=1, wait_ms=5000)
        positions = self.client.publish(target, [{"fields": {"n": 2}, "headers": {"own": "kept"}}, {"fields": {"n": 3}}], derived_from=claimed)
        strata.queues.ack(self.client, group, [claimed["receipt"]])
        self.assertEqual([p["offset"] for p in positions], [0, 1])
        records = self.client.read(target, 0, 0)["records"]
        spans = set()
        for record in records:
            headers = record["headers"]
            self.assertEqual(headers["strata-source"], f"{source}/0/0")
            context = parse_traceparent(headers["traceparent"])
            assert context is not None
            self.assertEqual(context[0], "4bf92f3577b34da6a3ce929d0e0e4736")
            spans.add(context[1])
        self.assertEqual(records[0]["headers"]["own"], "kept")
        self.assertEqual(len(spans), 2)
        self.assertNotIn("00f067aa0ba902b7", spans)


if __name__ == "__main__":
    unittest.main()
