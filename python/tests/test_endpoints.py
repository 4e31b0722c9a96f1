"""Several gateway URLs (strata/endpoints.py): parsing, stickiness, and, against real gateways
(test/cluster/clients-python.test.ts sets STRATA_URLS, a dead URL first), publishing and reading
through the second. ``python -m tests.test_endpoints publish STREAM COUNT [PARTITION]`` is the
idempotent publisher whose gateway that test (and clients-cluster-python.test.ts, a cluster's
partition leader) SIGKILLs mid-stream.
"""

from __future__ import annotations

import os
import sys
import unittest

import strata
from strata.endpoints import Endpoints, parse_urls, retry_after_seconds

from .support import unique


class ParseTest(unittest.TestCase):
    def test_a_list_in_any_form(self) -> None:
        self.assertEqual(parse_urls("127.0.0.1:1, http://b:2/ ,https://c"), ["http://127.0.0.1:1", "http://b:2", "https://c"])
        self.assertEqual(parse_urls(["http://a:1", "a:1", "b:2,c:3"]), ["http://a:1", "http://b:2", "http://c:3"])

    def test_refusals_name_the_url(self) -> None:
        with self.assertRaises(strata.StrataError) as caught:
            parse_urls("http://a:1,ftp://x")
        self.assertEqual(caught.exception.code, "BAD_REQUEST")
        self.assertIn("ftp://x", caught.exception.message)
        with self.assertRaises(strata.StrataError):
            parse_urls(" , ")

    def test_retry_after(self) -> None:
        self.assertEqual(retry_after_seconds("2"), 2.0)
        self.assertIsNone(retry_after_seconds(None))
        self.assertIsNone(retry_after_seconds("-1"))
        self.assertIsNone(retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT"))

    def test_sticky_until_a_failure(self) -> None:
        endpoints = Endpoints("a:1,b:2,c:3")
        self.assertEqual(endpoints.current(), "http://a:1")
        self.assertEqual(endpoints.failed("http://a:1"), "http://b:2")
        # A late failure of a URL that is no longer current moves nothing.
        self.assertEqual(endpoints.failed("http://a:1"), "http://b:2")
        endpoints.answered("http://c:3")
        self.assertEqual(endpoints.current(), "http://c:3")
        self.assertEqual(endpoints.failed("http://c:3"), "http://a:1")

    def test_bounds_are_checked(self) -> None:
        with self.assertRaises(strata.StrataError):
            strata.Client("a:1", max_attempts=0)


@unittest.skipUnless(os.environ.get("STRATA_URLS"), "STRATA_URLS names a dead gateway and a live one (clients-python.test.ts)")
class DeadFirstTest(unittest.TestCase):
    def test_publish_and_read_through_the_second(self) -> None:
        urls = os.environ["STRATA_URLS"]
        client = strata.Client(urls)
        stream = unique("py/endpoints")
        client.create_stream(stream)
        positions = client.publish(stream, [{"fields": {"n": n}} for n in range(5)])
        self.assertEqual([p["offset"] for p in positions], list(range(5)))
        self.assertEqual([r["fields"]["n"] for r in client.read(stream, 0, 0)["records"]], list(range(5)))
        self.assertEqual(client.session().url, urls.split(",")[1])
        # A list given as a list works the same.
        self.assertEqual(len(strata.Client(urls.split(",")).read(stream, 0, 0)["records"]), 5)


def publish(stream: str, count: int, partition: int | None = None) -> None:
    """One record per publish (one producer sequence number each), to ``partition`` when given, printing progress as it goes."""
    client = strata.Client(os.environ["STRATA_URLS"])
    for n in range(count):
        [position] = client.publish(stream, [{"fields": {"n": n}} if partition is None else {"fields": {"n": n}, "partition": partition}])
        if position["offset"] != n:
            raise SystemExit(f"record {n} landed at offset {position['offset']}")
        print(f"acked {n + 1}", flush=True)
    print(f"done via {client.session().url}", flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["publish"]:
        publish(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else None)
    else:
        unittest.main()
