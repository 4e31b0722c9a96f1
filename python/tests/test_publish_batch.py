"""Client-built batches from Python: the CRC32C and layout match the gateway's, publishes read back
equal, retries and keyed records, and a gateway that refuses batches gets MessagePack."""

from __future__ import annotations

import os
import unittest
from unittest import mock

import numpy as np

import strata
from strata import client as client_module
from strata.batch import CLIENT_BATCH_MEDIA_TYPE, _update, client_batch, crc32c, record_array
from strata.http import Session
from strata.wire import pack

from .support import gateway_url, unique


class Crc32cTest(unittest.TestCase):
    def test_known_value_and_lanes_agree_with_the_byte_loop(self) -> None:
        self.assertEqual(crc32c(b"123456789"), 0xE3069283)
        self.assertEqual(crc32c(b""), 0)
        for n in (1, 63, 2047, 8192, 8193, 50_001):
            data = os.urandom(n)
            self.assertEqual(crc32c(data), _update(0xFFFFFFFF, data) ^ 0xFFFFFFFF, n)

    def test_layout(self) -> None:
        body = client_batch([pack(record_array({"fields": {"a": 1}}))], {"id": 9, "epoch": 2, "seq": 3})
        self.assertEqual(body[:4], b"STRB")
        self.assertEqual(int.from_bytes(body[4:8], "little"), len(body))
        self.assertEqual(int.from_bytes(body[16:20], "little"), crc32c(body[20:]))
        self.assertEqual((body[20], body[21]), (1, 1))
        self.assertEqual(int.from_bytes(body[24:28], "little"), 1)
        self.assertEqual(int.from_bytes(body[60:64], "little"), 3)


class PublishBatchTest(unittest.TestCase):
    def setUp(self) -> None:
        self.client = strata.Client(gateway_url())
        self.sent: list[str] = []
        original = Session.request

        def spy(session, method, path, body=None, content_type=None, idempotent=True, headers=None):
            if method == "POST" and path.startswith("/v1/streams/") and "/records" in path:
                self.sent.append(content_type or "")
            return original(session, method, path, body, content_type, idempotent, headers)

        patcher = mock.patch.object(Session, "request", spy)
        patcher.start()
        self.addCleanup(patcher.stop)

    def tearDown(self) -> None:
        self.client.close()

    def test_batches_read_back_equal(self) -> None:
        stream = unique("py/batch")
        self.client.create_stream(stream, partitions=3)
        tensor = np.arange(6, dtype=np.float32).reshape(2, 3)
        records = [{"fields": {"i": i, "t": tensor, "b": bytes([i])}, "headers": {"h": "v"}} for i in range(5)]
        positions = self.client.publish(stream, records)
        self.assertEqual(self.sent, [CLIENT_BATCH_MEDIA_TYPE])
        self.assertEqual(len({p["partition"] for p in positions}), 1)
        page = self.client.read(stream, positions[0]["partition"], 0)
        got = page["records"]
        self.assertEqual([r["fields"]["i"] for r in got], list(range(5)))
        np.testing.assert_array_equal(got[0]["fields"]["t"], tensor)
        self.assertEqual(got[3]["fields"]["b"], bytes([3]))
        self.assertEqual(got[0]["headers"], {"h": "v"})

    def test_keys_and_partitions(self) -> None:
        stream = unique("py/batch-keys")
        self.client.create_stream(stream, partitions=4)
        one_key = self.client.publish(stream, [{"key": "dev", "fields": {"i": i}} for i in range(3)])
        self.assertEqual(len({p["partition"] for p in one_key}), 1)
        named = self.client.publish(stream, [{"key": f"k{i}", "partition": 2, "fields": {"i": i}} for i in range(3)])
        self.assertEqual({p["partition"] for p in named}, {2})
        mixed = self.client.publish(stream, [{"key": f"k{i}", "fields": {"i": i}} for i in range(12)])
        self.assertGreater(len({p["partition"] for p in mixed}), 1)
        self.assertEqual(self.sent, [CLIENT_BATCH_MEDIA_TYPE, CLIENT_BATCH_MEDIA_TYPE, "application/msgpack"])

    def test_refused_batches_fall_back_to_msgpack(self) -> None:
        stream = unique("py/batch-old")
        self.client.create_stream(stream)
        with mock.patch.object(client_module, "CLIENT_BATCH_MEDIA_TYPE", "application/json"):
            # Labelled JSON, the batch is what a gateway from before batches reads: malformed JSON.
            first = self.client.publish(stream, [{"fields": {"i": 1}}])
        second = self.client.publish(stream, [{"fields": {"i": 2}}])
        self.assertEqual(self.sent, ["application/json", "application/msgpack", "application/msgpack"])
        self.assertEqual([first[0]["offset"], second[0]["offset"]], [0, 1])

    def test_bad_records_keep_their_codes(self) -> None:
        stream = unique("py/batch-bad")
        self.client.create_stream(stream)
        with self.assertRaises(strata.StrataError) as raised:
            self.client.publish(stream, [{"fields": {"x": float("nan")}}])
        self.assertEqual(raised.exception.code, "BAD_BATCH")


if __name__ == "__main__":
    unittest.main()
