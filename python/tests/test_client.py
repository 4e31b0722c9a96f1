"""strata.Client: streams, publish and read round trips with tensors, errors with the gateway's code."""

from __future__ import annotations

import unittest

import numpy as np

import strata
from strata.wire import Tensor

from .support import gateway_url, unique


class ClientTest(unittest.TestCase):
    def setUp(self) -> None:
        self.client = strata.Client(gateway_url())

    def tearDown(self) -> None:
        self.client.close()

    def test_publish_and_read_round_trip_with_tensors(self) -> None:
        stream = unique("py/round-trip")
        created = self.client.create_stream(stream, partitions=2)
        self.assertEqual([p["partition"] for p in created["partitions"]], [0, 1])
        arrays = {
            "f32": np.arange(12, dtype=np.float32).reshape(3, 4) / 3,
            "i64": np.array([[-(2**40), 7]], dtype=np.int64),
            "u8": np.arange(5, dtype=np.uint8),
            "f16": np.array([0.5, -2.0], dtype=np.float16),
            "flag": np.array([True, False, True]),
            "scalar": np.array(3.25, dtype=np.float64),
        }
        bf16 = Tensor("BF16", (2,), np.array([0x3F80, 0xC000], dtype="<u2").tobytes())
        positions = self.client.publish(stream, [{"partition": 1, "key": b"\x01\x02", "headers": {"src": "py"}, "fields": {**arrays, "bf16": bf16, "blob": b"\x00\xff", "text": "hi", "n": 7}}])
        self.assertEqual(positions, [{"partition": 1, "offset": 0}])

        page = self.client.read(stream, 1, 0)
        self.assertEqual(page["next_offset"], 1)
        record = page["records"][0]
        self.assertEqual(record["key"], b"\x01\x02")
        self.assertEqual(record["headers"], {"src": "py"})
        fields = record["fields"]
        for name, expected in arrays.items():
            got = fields[name]
            self.assertIsInstance(got, np.ndarray, name)
            self.assertEqual(got.dtype, expected.dtype, name)
            self.assertEqual(got.shape, expected.shape, name)
            np.testing.assert_array_equal(got, expected)
            self.assertTrue(got.flags.writeable, name)
        fields["f32"][0, 0] = 42  # writable in place
        self.assertEqual(fields["bf16"].dtype, np.uint16)
        np.testing.assert_array_equal(fields["bf16"], [0x3F80, 0xC000])
        self.assertEqual(fields["blob"], b"\x00\xff")
        self.assertEqual(fields["text"], "hi")
        self.assertEqual(fields["n"], 7)

    def test_read_projects_fields_and_pages(self) -> None:
        stream = unique("py/pages")
        self.client.create_stream(stream)
        self.client.publish(stream, [{"fields": {"i": i, "pad": b"x" * 100}} for i in range(50)])
        page = self.client.read(stream, 0, 10, max_records=5, fields=["i"])
        self.assertEqual([r["fields"] for r in page["records"]], [{"i": i} for i in range(10, 15)])
        self.assertEqual(page["next_offset"], 15)
        self.assertEqual(page["end_offset"], 50)

    def test_read_with_a_filter_and_a_bad_filter(self) -> None:
        stream = unique("py/filter")
        self.client.create_stream(stream)
        self.client.publish(stream, [{"fields": {"i": i, "label": "even" if i % 2 == 0 else "odd"}} for i in range(20)])
        page = self.client.read(stream, 0, 0, filter='fields.label == "odd" && fields.i > 10')
        self.assertEqual([r["fields"]["i"] for r in page["records"]], [11, 13, 15, 17, 19])
        with self.assertRaises(strata.StrataError) as caught:
            self.client.read(stream, 0, 0, filter="fields.i >")
        self.assertEqual(caught.exception.code, "BAD_FILTER")
        self.assertEqual(caught.exception.status, 400)

    def test_publish_batches_large_inputs_in_order(self) -> None:
        stream = unique("py/batches")
        self.client.create_stream(stream)
        positions = self.client.publish(stream, ({"fields": {"i": i}} for i in range(2500)))
        self.assertEqual([p["offset"] for p in positions], list(range(2500)))

    def test_publishes_are_idempotent_per_producer_sequence(self) -> None:
        from strata.client import _records_body
        from strata.wire import pack

        client = self.client
        stream = unique("py-idem")
        client.create_stream(stream, partitions=1)
        first = client.publish(stream, [{"fields": {"n": n}} for n in range(3)])
        self.assertEqual([p["offset"] for p in first], [0, 1, 2])
        producer = client._producer_of_this_process()
        # A retry of the last request (same id, epoch and seq) is answered with its offsets and writes nothing.
        last = {"id": producer.id, "epoch": 0, "seq": producer.next(stream)["seq"] - 1}
        body = _records_body([pack({"fields": {"n": n}}) for n in range(3)], last)
        again = client.session().request("POST", f"/v1/streams/{stream}/records", body, "application/msgpack").decode()
        self.assertEqual([p["offset"] for p in again["records"]], [0, 1, 2])
        self.assertEqual(client.stream(stream)["partitions"][0]["end_offset"], 3)
        # After a publish that failed for good, the stream moves to the next epoch: no gap, no mix-up.
        with producer.lock(stream):
            producer.failed(stream)
        more = client.publish(stream, [{"fields": {"n": 3}}])
        self.assertEqual(more[0]["offset"], 3)
        self.assertEqual(producer.next(stream), {"id": producer.id, "epoch": 1, "seq": 1})

    def test_gateway_errors_carry_their_code(self) -> None:
        with self.assertRaises(strata.StrataError) as caught:
            self.client.read(unique("py/missing"), 0, 0)
        self.assertEqual(caught.exception.code, "STREAM_NOT_FOUND")
        self.assertEqual(caught.exception.status, 404)
        stream = unique("py/twice")
        self.client.create_stream(stream)
        with self.assertRaises(strata.StrataError) as caught:
            self.client.create_stream(stream)
        self.assertEqual(caught.exception.code, "STREAM_EXISTS")

    def test_malformed_records_are_refused_before_sending(self) -> None:
        with self.assertRaises(strata.StrataError) as caught:
            self.client.publish("anything", [{"i": 1}])
        self.assertEqual(caught.exception.code, "BAD_REQUEST")


if __name__ == "__main__":
    unittest.main()
