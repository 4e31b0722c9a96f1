"""strata.order: the doc's test vectors, the rank/worker split, resume and state validation.

No gateway needed; run with `PYTHONPATH=python python3 -m unittest tests.test_order` from python/
(test/datasets/order-vectors.test.ts runs it with Debian's interpreter).
"""

from __future__ import annotations

import json
import math
import pathlib
import re
import unittest

from strata import StrataError
from strata.order import (
    BLOCK_SPANS,
    PURPOSE_SPANS,
    DatasetOrder,
    SplitMix64,
    generator_key,
    parse_state,
    positions_for,
    rank_sample_count,
    spans_of,
    worker_sample_count,
)

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "dataset-order.md"


def doc_vectors() -> dict:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## Test vectors"):]
    match = re.search(r"```json\n(.*?)\n```", section, re.S)
    assert match is not None, "docs/dataset-order.md has no json block under Test vectors"
    return json.loads(match.group(1))


def version_of(partition_samples: list[int], span_samples: int, name: str = "d", number: int = 1) -> dict:
    partitions = []
    first = 0
    for p, n in enumerate(partition_samples):
        partitions.append({"partition": p, "start": 100 * p, "end": 100 * p + n, "samples": n, "first_index": first})
        first += n
    return {"name": name, "version": number, "samples": first, "span_samples": span_samples, "partitions": partitions}


def interleave(per_rank: list[list[int]]) -> list[int]:
    """Rank sequences of equal length, merged by position (position p was read by rank p mod R)."""
    return [sample for round_ in zip(*per_rank) for sample in round_]


def dataloader_output(order, sample_in_epoch: int, rank: int, world_size: int, num_workers: int, batch_size: int) -> list[int]:
    """What a DataLoader yields: one batch from each worker in turn, skipping exhausted workers."""
    workers = [list(positions_for(order, sample_in_epoch, rank, world_size, w, num_workers, batch_size)) for w in range(num_workers)]
    batches = [[ws[i:i + batch_size] for i in range(0, len(ws), batch_size)] for ws in workers]
    out: list[int] = []
    for step in range(max((len(b) for b in batches), default=0)):
        for b in batches:
            if step < len(b):
                out.extend(b[step])
    return out


class VectorsTest(unittest.TestCase):
    def test_doc_vectors(self) -> None:
        v = doc_vectors()
        g = SplitMix64(0)
        self.assertEqual([str(g.next()) for _ in v["splitmix64_state_0"]], v["splitmix64_state_0"])
        key = generator_key(42, PURPOSE_SPANS, 0, 0)
        self.assertEqual(str(key), v["key_42_spans_0_0"])
        g = SplitMix64(key)
        self.assertEqual([str(g.next()) for _ in v["key_42_spans_0_0_outputs"]], v["key_42_spans_0_0_outputs"])
        g = SplitMix64(key)
        draws = v["key_42_spans_0_0_below_10_then_below_1000003"]
        self.assertEqual([g.below(10) for _ in draws[:10]] + [g.below(1000003) for _ in draws[10:]], draws)
        for case in v["orders"]:
            order = DatasetOrder(v["version"], case["seed"], case["canonical_buckets"], block_size=case["block_size"]).epoch(case["epoch"])
            self.assertEqual([order.at(p) for p in range(order.samples)], case["order"], case)
        last = v["orders"][-1]
        self.assertEqual(DatasetOrder(v["version"], last["seed"]).canonical_buckets, last["canonical_buckets"])
        # The default B is BLOCK_SPANS * span_samples (2 * 4): the vectors with B = 8 are the default order.
        defaults = [case for case in v["orders"] if case["block_size"] == 8]
        self.assertGreaterEqual(len(defaults), 2)
        for case in defaults:
            order = DatasetOrder(v["version"], case["seed"], case["canonical_buckets"]).epoch(case["epoch"])
            self.assertEqual(order.order.block_size, BLOCK_SPANS * v["version"]["span_samples"])
            self.assertEqual([order.at(p) for p in range(order.samples)], case["order"], case)
        r = v["readers"]
        order = DatasetOrder(v["version"], r["seed"], r["canonical_buckets"], block_size=r["block_size"]).epoch(r["epoch"])
        for reader in r["samples"]:
            got = list(positions_for(order, r["sample_in_epoch"], reader["rank"], r["world_size"], reader["worker"], r["num_workers"], r["batch_size"]))
            self.assertEqual(got, reader["samples"], reader)


class OrderTest(unittest.TestCase):
    version = version_of([1000, 371, 0, 629], span_samples=64)

    def order(self, seed: int = 5, epoch: int = 0, **kwargs):
        return DatasetOrder(self.version, seed, block_size=100, **kwargs).epoch(epoch)

    def test_every_sample_exactly_once(self) -> None:
        order = self.order()
        self.assertEqual(sorted(positions_for(order)), list(range(2000)))

    def test_world_1x1_and_2_ranks_x_2_workers_give_the_same_global_order(self) -> None:
        order = self.order()
        single = list(positions_for(order))
        per_rank = [dataloader_output(order, 0, r, 2, 2, 8) for r in range(2)]
        self.assertEqual(interleave(per_rank), single)

    def test_other_seeds_and_epochs_give_other_orders(self) -> None:
        base = list(positions_for(self.order(5, 0)))
        self.assertNotEqual(list(positions_for(self.order(6, 0))), base)
        self.assertNotEqual(list(positions_for(self.order(5, 1))), base)
        self.assertEqual(list(positions_for(self.order(5, 0))), base)

    def test_no_shuffle_is_the_identity(self) -> None:
        self.assertEqual(list(positions_for(self.order(shuffle=False))), list(range(2000)))

    def test_resume_mid_epoch_on_another_world_size(self) -> None:
        order = self.order()
        single = list(positions_for(order))
        # Two ranks received 300 samples each: 600 global samples consumed.
        state = {"dataset": "d", "version": 1, "seed": 5, "epoch": 0, "sample_in_epoch": 300 * 2, "canonical_buckets": order.order.canonical_buckets}
        s = parse_state(state, "d", 1, 2000)["sample_in_epoch"]
        for world in (1, 3, 4):
            per_rank = [dataloader_output(order, s, r, world, 3, 5) for r in range(world)]
            self.assertEqual(len({len(x) for x in per_rank}), 1)
            self.assertEqual(len(per_rank[0]), rank_sample_count(2000, s, world))
            kept = len(per_rank[0]) * world
            self.assertEqual(interleave(per_rank), single[s:s + kept])

    def test_ranks_get_equal_counts_and_the_tail_is_dropped(self) -> None:
        order = self.order()
        per_rank = [list(positions_for(order, 1, r, 3)) for r in range(3)]
        self.assertEqual([len(x) for x in per_rank], [666, 666, 666])
        self.assertEqual(len(set().union(*map(set, per_rank))), 1998)

    def test_worker_counts_add_up(self) -> None:
        for count in (0, 1, 7, 64, 65):
            self.assertEqual(sum(worker_sample_count(count, w, 3, 4) for w in range(3)), count)


class PiecesTest(unittest.TestCase):
    """piece_of: the unit a reader fetches, a span cut to its bucket."""

    version = version_of([1000, 371, 0, 629], span_samples=64)

    def test_pieces_tile_the_samples_inside_spans_and_buckets(self) -> None:
        for shuffle in (True, False):
            order = DatasetOrder(self.version, 5, canonical_buckets=7, shuffle=shuffle)
            pieces = sorted({order.piece_of(g) for g in range(order.samples)})
            from_buckets = sorted(p for b in range(order.buckets) for p in zip(*order.pieces_of(b)))
            self.assertEqual(pieces, from_buckets)
            self.assertEqual(sum(count for _, count in pieces), order.samples)
            span_starts = spans_of(self.version)[0]
            for start, count in pieces:  # consecutive indexes of one span: no span starts inside a piece
                self.assertFalse(any(start < s < start + count for s in span_starts))
                self.assertTrue(all(order.piece_of(g) == (start, count) for g in range(start, start + count)))

    def test_a_rank_touches_c_over_gcd_buckets(self) -> None:
        order = DatasetOrder(self.version, 5, canonical_buckets=8)
        epoch = order.epoch(0)
        for world in (1, 2, 3, 4, 8):
            expected = order.touched_buckets(world)
            self.assertEqual(expected, 8 // math.gcd(world, 8))
            for rank in range(world):
                buckets = {order.bucket_of(p)[0] for p in range(rank, order.samples - order.samples % world, world)}
                self.assertEqual(len(buckets), expected, (world, rank))
                seen = {order.piece_of(g)[0] for g in positions_for(epoch, 0, rank, world)}
                in_buckets = {s for b in buckets for s in order.pieces_of(b)[0]}
                self.assertLessEqual(seen, in_buckets)

    def test_a_block_covers_at_most_block_spans_plus_one_pieces_of_full_spans(self) -> None:
        version = version_of([64 * 40], span_samples=64)  # every span full: pieces are cut only at bucket edges
        order = DatasetOrder(version, 3, canonical_buckets=4)
        epoch = order.epoch(2)
        B = order.block_size
        self.assertEqual(B, BLOCK_SPANS * 64)
        for b in range(order.buckets):
            length = order.bucket_length(b)
            positions = [p for p in range(order.samples) if order.bucket_of(p)[0] == b]
            for j in range(0, length, B):
                block = [epoch.at(positions[local]) for local in range(j, min(j + B, length))]
                self.assertLessEqual(len({order.piece_of(g) for g in block}), BLOCK_SPANS + 1)


def peak_live_pieces(order, epoch: int, rank: int = 0, world_size: int = 1) -> int:
    """The most pieces in use at once by a rank reading an epoch: a piece is in use from the position
    that first needs it to the last (what a reader that fetches each piece once must hold)."""
    first: dict = {}
    last: dict = {}
    for k, g in enumerate(positions_for(order.epoch(epoch), 0, rank, world_size)):
        piece = order.piece_of(g)
        first.setdefault(piece, k)
        last[piece] = k
    events = sorted([(k, 1) for k in first.values()] + [(k + 1, -1) for k in last.values()], key=lambda e: (e[0], e[1]))
    live = peak = 0
    for _, change in events:
        live += change
        peak = max(peak, live)
    return peak


class WorkingSetTest(unittest.TestCase):
    """The pieces a reader keeps in use are about touched buckets x (BLOCK_SPANS + 1), whatever the dataset's size."""

    def test_the_working_set_does_not_grow_with_the_dataset(self) -> None:
        peaks = []
        for samples in (20_000, 80_000):
            order = DatasetOrder(version_of([samples // 2, samples // 2], span_samples=20), 7, canonical_buckets=16)
            peak = peak_live_pieces(order, 1)
            self.assertLessEqual(peak, 16 * (BLOCK_SPANS + 1) + 16)  # + one piece per bucket across a block edge
            peaks.append(peak)
        self.assertLessEqual(abs(peaks[1] - peaks[0]), 16)

    def test_a_rank_of_r_dividing_c_keeps_c_over_r_buckets_in_use(self) -> None:
        order = DatasetOrder(version_of([20_000], span_samples=20), 7, canonical_buckets=16)
        whole = peak_live_pieces(order, 0)
        quarter = peak_live_pieces(order, 0, rank=1, world_size=4)
        self.assertLessEqual(quarter, 4 * (BLOCK_SPANS + 1) + 4)
        self.assertLess(quarter, whole / 3)


class StateTest(unittest.TestCase):
    good = {"dataset": "d", "version": 1, "seed": 0, "epoch": 0, "sample_in_epoch": 10, "canonical_buckets": 64}

    def refused(self, state, *expected: str) -> None:
        with self.assertRaises(StrataError) as caught:
            parse_state(state, "d", 1, 100)
        self.assertEqual(caught.exception.code, "BAD_REQUEST")
        for text in expected:
            self.assertIn(text, caught.exception.message)

    def test_valid_state(self) -> None:
        self.assertEqual(parse_state(dict(self.good), "d", 1, 100), self.good)

    def test_another_dataset_or_version_names_both(self) -> None:
        self.refused({**self.good, "dataset": "other"}, "'other' version 1", "'d' version 1")
        self.refused({**self.good, "version": 2}, "'d' version 2", "not 'd' version 1")

    def test_malformed_states_name_the_field(self) -> None:
        self.refused("nope", "expected an object")
        self.refused({k: v for k, v in self.good.items() if k != "epoch"}, "epoch: missing")
        self.refused({**self.good, "epoch": -1}, "epoch")
        self.refused({**self.good, "seed": "7"}, "seed")
        self.refused({**self.good, "sample_in_epoch": True}, "sample_in_epoch")
        self.refused({**self.good, "canonical_buckets": 0}, "canonical_buckets")
        self.refused({**self.good, "extra": 1}, "extra: unknown field")
        self.refused({**self.good, "sample_in_epoch": 101}, "past the version's 100 samples")


if __name__ == "__main__":
    unittest.main()
