"""strata.Dataset against a real gateway: order, coverage, ranks and workers, resume, projection, filters, errors."""

from __future__ import annotations

import unittest
from itertools import islice

import numpy as np

import strata
from strata import order

from .support import gateway_url, global_index, interleave, make_dataset, unique

SAMPLES = 103  # not a multiple of the world sizes below: the tail each epoch drops is exercised


class DatasetTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.url = gateway_url()
        cls.client = strata.Client(cls.url)
        cls.stream, cls.name, cls.info = make_dataset(cls.client, SAMPLES, partitions=3, span_samples=8)

    def read(self, **kwargs) -> list[int]:
        ds = strata.Dataset(self.url, self.name, prefetch_bytes=kwargs.pop("prefetch_bytes", 4096), **kwargs)
        return [global_index(ds.info, s) for s in ds]

    def expected(self, seed: int, epoch: int, shuffle: bool = True, **place) -> list[int]:
        epoch_order = order.DatasetOrder(self.info, seed=seed, shuffle=shuffle).epoch(epoch)
        return list(order.positions_for(epoch_order, **place))

    def test_version_info(self) -> None:
        self.assertEqual(self.info["samples"], SAMPLES)
        self.assertEqual(self.info["version"], 1)
        described = self.client.dataset(self.name)
        self.assertEqual([v["version"] for v in described["versions"]], [1])

    def test_one_reader_reads_every_sample_once_in_the_order(self) -> None:
        got = self.read(seed=5, epoch=0, rank=0, world_size=1)
        self.assertEqual(sorted(got), list(range(SAMPLES)))
        self.assertEqual(got, self.expected(5, 0))
        self.assertNotEqual(got, list(range(SAMPLES)))

    def test_unshuffled_is_the_global_order(self) -> None:
        self.assertEqual(self.read(shuffle=False, rank=0, world_size=1), list(range(SAMPLES)))

    def test_other_seeds_and_epochs_give_other_orders(self) -> None:
        base = self.read(seed=1, epoch=0, rank=0, world_size=1)
        other_seed = self.read(seed=2, epoch=0, rank=0, world_size=1)
        other_epoch = self.read(seed=1, epoch=1, rank=0, world_size=1)
        for got in (other_seed, other_epoch):
            self.assertEqual(sorted(got), list(range(SAMPLES)))
            self.assertNotEqual(got, base)
        ds = strata.Dataset(self.url, self.name, seed=1, rank=0, world_size=1)
        ds.set_epoch(1)
        self.assertEqual([global_index(ds.info, s) for s in ds], other_epoch)

    def test_two_ranks_of_two_workers_give_the_global_order(self) -> None:
        whole = self.read(seed=9, epoch=3, rank=0, world_size=1)
        per_rank = []
        for rank in range(2):
            workers = [self.read(seed=9, epoch=3, rank=rank, world_size=2, worker=w, num_workers=2, batch_size=4) for w in range(2)]
            # The DataLoader's round-robin: chunk k of 4 samples from worker k mod 2.
            chunks = [[seq[i : i + 4] for i in range(0, len(seq), 4)] for seq in workers]
            merged = [x for k in range(len(chunks[0]) + len(chunks[1])) for x in (chunks[k % 2][k // 2] if k // 2 < len(chunks[k % 2]) else [])]
            self.assertEqual(len(merged), SAMPLES // 2)
            ds = strata.Dataset(self.url, self.name, seed=9, epoch=3, rank=rank, world_size=2)
            self.assertEqual(len(ds), SAMPLES // 2)
            per_rank.append(merged)
        # Positions interleave the ranks; the last SAMPLES mod 2 positions are dropped this epoch.
        self.assertEqual(interleave(per_rank), whole[: SAMPLES - SAMPLES % 2])

    def test_samples_carry_their_fields_and_writable_tensors(self) -> None:
        ds = strata.Dataset(self.url, self.name, shuffle=False, rank=0, world_size=1)
        first = next(iter(ds))
        self.assertEqual(set(first), {"i", "label", "blob", "x"})
        self.assertIsInstance(first["blob"], bytes)
        self.assertEqual(first["x"].dtype, np.float32)
        self.assertEqual(first["x"].shape, (2, 3))
        self.assertTrue(first["x"].flags.writeable)
        np.testing.assert_array_equal(first["x"], np.full((2, 3), first["i"], dtype=np.float32))

    def test_read_ahead_stays_within_its_byte_bound(self) -> None:
        from strata.span_reader import SpanReader

        client = strata.Client(self.url)
        samples = 600  # 75 spans: the bound is a small part of the version
        _, name, info = make_dataset(client, samples, partitions=3, span_samples=8)
        for shuffle in (False, True):
            ds = strata.Dataset(self.url, name, seed=6, shuffle=shuffle, rank=0, world_size=1)
            span_samples = ds.info["span_samples"]
            span_bytes = []
            for start in range(0, samples, span_samples):
                path, _ = ds.client.samples_request(name, ds.version, start, span_samples)
                span_bytes.append(len(ds.client.session().request("GET", path).body))
            biggest = max(span_bytes)
            expected = list(order.positions_for(order.DatasetOrder(info, seed=6, shuffle=shuffle).epoch(0)))
            for bound in (1, 3 * biggest):
                reader = SpanReader(ds.client, name, ds.version, ds.info, ds.indexes(), len(ds), prefetch_bytes=bound, threads=2)
                self.assertEqual([global_index(ds.info, s) for s in reader], expected)
                # At most the bound plus one request per fetch thread (the hard invariant), far less than the version.
                self.assertLessEqual(reader.peak_cached_bytes, bound + 2 * reader.largest_request_bytes)
                self.assertLess(reader.peak_cached_bytes, sum(span_bytes) / 4)
                if bound == 1:  # nothing fits the bound: every request is one span
                    self.assertLessEqual(reader.largest_request_bytes, biggest)
                    self.assertTrue(all(len(r) == 1 for r in reader.requests))
                if not shuffle and bound > 1:
                    self.assertEqual(reader.evictions, 0)  # in order, a span is done with before the next ones

    def test_a_shuffled_epoch_fetches_every_piece_once_within_the_working_set(self) -> None:
        """With prefetch_bytes at the documented working set, every piece (span cut to its bucket) is fetched
        once per epoch, in the order pieces are first needed, and nothing is evicted (counted, not timed)."""
        from strata.dataset import working_set_bytes
        from strata.span_reader import SpanReader

        client = strata.Client(self.url)
        _, name, info = make_dataset(client, 1500, partitions=3, span_samples=8)
        for buckets, world in ((None, 1), (16, 1), (16, 2)):
            ds = strata.Dataset(self.url, name, seed=11, epoch=1, canonical_buckets=buckets, rank=0, world_size=world)
            touched = ds._order.touched_buckets(world)
            self.assertEqual(touched, ds._order.buckets // world)  # R divides C: a rank reads C / R buckets
            # The working set in response bytes: the documented formula with the biggest piece's response.
            pieces = sorted({ds._order.piece_of(g) for g in range(ds.samples)})
            biggest = max(len(client.session().request("GET", client.samples_request(name, ds.version, start, count)[0]).body) for start, count in pieces)
            bound = touched * (order.BLOCK_SPANS + 1) * biggest
            # The formula (from the version's bytes) and the responses' measure agree within framing.
            self.assertLess(abs(working_set_bytes(info, touched) / bound - 1), 0.25)
            indexes = list(ds.indexes())
            reader = SpanReader(ds.client, name, ds.version, ds.info, iter(indexes), len(indexes), prefetch_bytes=bound, threads=2, unit_of=ds._order.piece_of, lookahead=ds.lookahead())
            got = [global_index(info, s) for s in reader]
            self.assertEqual(got, indexes)
            self.assertEqual(reader.evictions, 0)
            self.assertEqual(set(reader.fetch_counts.values()), {1}, (buckets, world))
            # Fetched pieces are those the reader needs, each sample at most once, in the order they are first needed.
            first_need = {piece: k for k, piece in enumerate(dict.fromkeys(ds._order.piece_of(g) for g in indexes))}
            self.assertEqual(sorted((u.start, u.count) for u in reader.fetch_counts), sorted(first_need))
            # Each range read starts at the first-needed piece not yet claimed; pieces right after it in global
            # order may come along in the same read (coalesced), each read contiguous.
            heads = [first_need[(r[0].start, r[0].count)] for r in reader.requests]
            self.assertEqual(heads, sorted(heads))
            for read in reader.requests:
                self.assertTrue(all(a.start + a.count == b.start for a, b in zip(read, read[1:])))
            self.assertLessEqual(reader.peak_cached_bytes, bound + 2 * reader.largest_request_bytes)
            if buckets == 16:  # blocks much shorter than buckets: a working set, far less than the rank's pieces
                self.assertLess(reader.peak_cached_bytes, len(first_need) * biggest / 2)
            # The Dataset's own defaults (derived prefetch bound and look-ahead) read the same sequence.
            self.assertGreaterEqual(ds.prefetch_bytes, 64 * 1024 * 1024)
            self.assertEqual([global_index(info, s) for s in ds], indexes)

    def test_units_that_follow_each_other_are_read_together(self) -> None:
        """An unshuffled epoch with small spans and a roomy bound: pieces adjacent in global order share range
        reads of up to COALESCE_BYTES; with a 1-byte bound, one piece per read."""
        from strata.span_reader import COALESCE_BYTES, SpanReader

        ds = strata.Dataset(self.url, self.name, shuffle=False, rank=0, world_size=1)
        for bound, coalesced in ((1 << 30, True), (1, False)):
            reader = SpanReader(ds.client, self.name, ds.version, ds.info, ds.indexes(), len(ds), prefetch_bytes=bound, threads=2, unit_of=ds._order.piece_of)
            self.assertEqual([global_index(ds.info, s) for s in reader], list(range(SAMPLES)))
            self.assertEqual(set(reader.fetch_counts.values()), {1})
            self.assertEqual(sum(len(read) for read in reader.requests), len(reader.fetch_counts))
            if coalesced:
                self.assertLess(len(reader.requests), len(reader.fetch_counts) // 2)
                self.assertLess(max(sum(u.count for u in read) for read in reader.requests) * 40, COALESCE_BYTES * 2)
            else:
                self.assertEqual(max(len(read) for read in reader.requests), 1)

    def test_fields_projection(self) -> None:
        ds = strata.Dataset(self.url, self.name, fields=["i", "x"], rank=0, world_size=1)
        samples = list(ds)
        self.assertEqual(len(samples), SAMPLES)
        self.assertTrue(all(set(s) == {"i", "x"} for s in samples))

    def test_resume_mid_epoch_exactly(self) -> None:
        whole = self.read(seed=3, epoch=2, rank=0, world_size=1)
        ds = strata.Dataset(self.url, self.name, seed=3, epoch=2, rank=0, world_size=1, prefetch_bytes=4096)
        head = [global_index(ds.info, s) for s in islice(iter(ds), 37)]
        state = ds.state_dict()
        self.assertEqual(state, {"dataset": self.name, "version": 1, "seed": 3, "epoch": 2, "sample_in_epoch": 37, "canonical_buckets": order.DatasetOrder(self.info, seed=3).canonical_buckets})
        resumed = strata.Dataset(self.url, self.name, rank=0, world_size=1)
        resumed.load_state_dict(state)
        self.assertEqual(len(resumed), SAMPLES - 37)
        self.assertEqual(head + [global_index(ds.info, s) for s in resumed], whole)

    def test_resume_on_another_world_size(self) -> None:
        whole = self.read(seed=4, epoch=0, rank=0, world_size=1)
        # Two ranks each received 10 samples: 20 global samples consumed.
        state = None
        for rank in range(2):
            ds = strata.Dataset(self.url, self.name, seed=4, rank=rank, world_size=2, prefetch_bytes=4096)
            list(islice(iter(ds), 10))
            state = ds.state_dict()
        self.assertEqual(state["sample_in_epoch"], 20)
        # Resumed on one rank: exactly the rest.
        one = strata.Dataset(self.url, self.name, rank=0, world_size=1)
        one.load_state_dict(state)
        self.assertEqual([global_index(one.info, s) for s in one], whole[20:])
        # Resumed on three ranks: the rest, interleaved, minus this epoch's dropped tail.
        per_rank = []
        for rank in range(3):
            ds = strata.Dataset(self.url, self.name, rank=rank, world_size=3)
            ds.load_state_dict(state)
            per_rank.append([global_index(ds.info, s) for s in ds])
        rest = SAMPLES - 20
        self.assertEqual(interleave(per_rank), whole[20 : 20 + rest - rest % 3])

    def test_filtered_dataset(self) -> None:
        name = unique("py-even")
        info = self.client.create_dataset(name, self.stream, filter='fields.label == "even"')
        self.assertEqual(info["samples"], (SAMPLES + 1) // 2)
        ds = strata.Dataset(self.url, name, rank=0, world_size=1)
        samples = list(ds)
        self.assertEqual(sorted(s["i"] for s in samples), list(range(0, SAMPLES, 2)))

    def test_new_versions_pin_new_records(self) -> None:
        stream, name, info = make_dataset(self.client, 10, partitions=1)
        self.client.publish(stream, [{"fields": {"i": 10, "label": "even", "blob": b"", "x": np.zeros((2, 3), np.float32)}}])
        second = self.client.create_dataset(name, stream)
        self.assertEqual((second["version"], second["samples"]), (2, 11))
        self.assertEqual(len(strata.Dataset(self.url, name, version=1, rank=0, world_size=1)), 10)
        self.assertEqual(len(strata.Dataset(self.url, name, rank=0, world_size=1)), 11)

    def test_unknown_dataset_and_version(self) -> None:
        with self.assertRaises(strata.StrataError) as caught:
            strata.Dataset(self.url, unique("py-missing"))
        self.assertEqual(caught.exception.status, 404)
        self.assertTrue(caught.exception.code.endswith("NOT_FOUND"), caught.exception.code)
        with self.assertRaises(strata.StrataError) as caught:
            strata.Dataset(self.url, self.name, version=99)
        self.assertEqual(caught.exception.status, 404)
        self.assertTrue(caught.exception.code.endswith("NOT_FOUND"), caught.exception.code)

    def test_states_of_other_datasets_and_malformed_states_are_refused(self) -> None:
        ds = strata.Dataset(self.url, self.name, rank=0, world_size=1)
        good = ds.state_dict()
        bad_states = [
            {**good, "dataset": "another"},
            {**good, "version": 2},
            {**good, "sample_in_epoch": SAMPLES + 1},
            {**good, "epoch": -1},
            {k: v for k, v in good.items() if k != "seed"},
            {**good, "extra": 1},
            "not a state",
        ]
        for state in bad_states:
            with self.assertRaises(strata.StrataError, msg=repr(state)) as caught:
                ds.load_state_dict(state)
            self.assertEqual(caught.exception.code, "BAD_REQUEST")
        ds.load_state_dict(good)  # still usable
        self.assertEqual(len(ds), SAMPLES)


if __name__ == "__main__":
    unittest.main()
