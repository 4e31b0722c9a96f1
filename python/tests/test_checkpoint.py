"""strata.checkpoint against a real gateway: save from every rank, all-or-none visibility, load, keep.

Ranks are threads, each with its own Client (as rank processes have). Delta uploads (against a
basis: only changed blocks on the wire, the plain upload's id) are counted by their wire bytes. test/python/
training-coordination.test.ts runs this module against a gateway process; the rank processes killed
mid-upload are test/python/checkpoint-kill.test.ts.
"""

from __future__ import annotations

import os
import random
import tempfile
import threading
import unittest
from typing import Any

import strata
from strata import checkpoint

from .support import gateway_url, unique

try:
    import torch
except ImportError:  # torch is optional for the client; its test is skipped without it
    torch = None


def _shard(rank: int, step: int, size: int = 300_000) -> bytes:
    return bytes((i * 7 + rank * 13 + step) % 251 for i in range(size))


def _save_all(job: str, cid: str, step: int, world: int, shards: list[bytes]) -> list[dict]:
    """Every rank saves its shard at once, each from its own thread and client."""
    answers: list[Any] = [None] * world
    errors: list[BaseException] = []

    def rank_main(rank: int) -> None:
        try:
            client = strata.Client(gateway_url())
            answers[rank] = checkpoint.save(client, job, cid, rank, world, step, shards[rank], state={"rank": rank, "step": step, "offsets": {"train": step * 10}})
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=rank_main, args=(r,)) for r in range(world)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return answers


class CheckpointTest(unittest.TestCase):
    def setUp(self) -> None:
        self.client = strata.Client(gateway_url())
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self) -> None:
        self.dir.cleanup()
        self.client.close()

    def path(self, name: str) -> str:
        return os.path.join(self.dir.name, name)

    def test_complete_checkpoint_loads_each_rank(self) -> None:
        job = unique("job")
        shards = [_shard(r, 10) for r in range(3)]
        answers = _save_all(job, "c10", 10, 3, shards)
        self.assertEqual(sorted(a["rank"] for a in answers), [0, 1, 2])
        self.assertEqual(sum(1 for a in answers if a["complete"]), 1)  # the last commit completes it
        listed = checkpoint.list(self.client, job)
        self.assertEqual([c["id"] for c in listed], ["c10"])
        for rank in range(3):
            meta = checkpoint.load(self.client, job, rank, self.path(f"r{rank}"))
            self.assertEqual((meta["id"], meta["step"], meta["world_size"], meta["rank"]), ("c10", 10, 3, rank))
            self.assertEqual(meta["state"], {"rank": rank, "step": 10, "offsets": {"train": 100}})
            with open(self.path(f"r{rank}"), "rb") as f:
                self.assertEqual(f.read(), shards[rank])
        # No temporary file is left beside the shards.
        self.assertEqual(sorted(os.listdir(self.dir.name)), ["r0", "r1", "r2"])

    def test_incomplete_checkpoint_is_invisible(self) -> None:
        job = unique("job")
        _save_all(job, "c1", 1, 2, [_shard(0, 1), _shard(1, 1)])
        answer = checkpoint.save(self.client, job, "c2", 0, 2, 2, _shard(0, 2))
        self.assertEqual((answer["committed"], answer["complete"]), (1, False))
        self.assertEqual(checkpoint.get(self.client, job)["id"], "c1")
        self.assertEqual([c["id"] for c in checkpoint.list(self.client, job)], ["c1"])
        meta = checkpoint.load(self.client, job, 0, self.path("r0"))
        self.assertEqual(meta["id"], "c1")
        with open(self.path("r0"), "rb") as f:
            self.assertEqual(f.read(), _shard(0, 1))
        with self.assertRaises(strata.StrataError) as raised:
            checkpoint.get(self.client, job, "c2")
        self.assertEqual(raised.exception.code, "NOT_FOUND")

    def test_no_checkpoint_is_not_found(self) -> None:
        with self.assertRaises(strata.StrataError) as raised:
            checkpoint.load(self.client, unique("job"), 0, self.path("none"))
        self.assertEqual(raised.exception.code, "NOT_FOUND")
        self.assertFalse(os.path.exists(self.path("none")))

    def test_disagreeing_step_is_a_conflict(self) -> None:
        job = unique("job")
        checkpoint.save(self.client, job, "c5", 0, 2, 5, _shard(0, 5))
        with self.assertRaises(strata.StrataError) as raised:
            checkpoint.save(self.client, job, "c5", 1, 2, 6, _shard(1, 5))
        self.assertEqual(raised.exception.code, "CHECKPOINT_CONFLICT")

    def test_keep_n(self) -> None:
        job = unique("job")
        checkpoint.set_keep(self.client, job, 2)
        for step in (1, 2, 3):
            _save_all(job, f"c{step}", step, 2, [_shard(0, step), _shard(1, step)])
        self.assertEqual([c["id"] for c in checkpoint.list(self.client, job)], ["c3", "c2"])
        meta = checkpoint.load(self.client, job, 1, self.path("r1"), id="c2")
        self.assertEqual(meta["step"], 2)
        with open(self.path("r1"), "rb") as f:
            self.assertEqual(f.read(), _shard(1, 2))

    def test_file_upload_streams_and_deduplicates(self) -> None:
        size = 3 * 1024 * 1024
        # Seeded, not os.urandom: where content-defined chunk boundaries fall depends on the bytes,
        # and with 64 KiB chunks averaging up to 256 KiB a random draw sometimes made the two
        # changed regions cost more than a quarter of the file (a flaky bound, not a regression).
        rng = random.Random(20261130)
        data = bytearray(rng.randbytes(size))
        with open(self.path("shard"), "wb") as f:
            f.write(data)
        first = checkpoint.upload(self.client, self.path("shard"))
        self.assertEqual(first["size"], size)
        # 5 % changed in two regions: the gateway stores far less than the file.
        data[100_000:180_000] = rng.randbytes(80_000)
        data[2_000_000:2_077_000] = rng.randbytes(77_000)
        with open(self.path("shard"), "wb") as f:
            f.write(data)
        second = checkpoint.upload(self.client, self.path("shard"))
        self.assertNotEqual(second["id"], first["id"])
        self.assertGreater(second["new_bytes"], 0)
        self.assertLess(second["new_bytes"], size // 4)
        self.assertEqual(checkpoint.download(self.client, second["id"], self.path("back")), size)
        with open(self.path("back"), "rb") as f:
            self.assertEqual(f.read(), bytes(data))

    def test_empty_shard(self) -> None:
        job = unique("job")
        checkpoint.save(self.client, job, "c0", 0, 1, 0, b"", state={"empty": True})
        meta = checkpoint.load(self.client, job, 0, self.path("empty"))
        self.assertEqual((meta["size"], meta["state"]), (0, {"empty": True}))
        self.assertEqual(os.path.getsize(self.path("empty")), 0)

    def _changed_file(self, name: str, data: bytearray, regions: list[tuple[int, int]]) -> bytes:
        """Rewrites ``regions`` (offset, length) of ``data`` with new bytes, writes it to ``name``."""
        for at, length in regions:
            data[at : at + length] = os.urandom(length)
        with open(self.path(name), "wb") as f:
            f.write(data)
        return bytes(data)

    def test_delta_upload_moves_only_changed_blocks(self) -> None:
        size, block = 16 * 1024 * 1024, 256 * 1024
        data = bytearray(os.urandom(size))
        with open(self.path("v1"), "wb") as f:
            f.write(data)
        basis = checkpoint.upload(self.client, self.path("v1"))
        self.assertEqual(basis["wire_bytes"], size)
        # 5 % changed in two regions of 400 KiB, one straddling block boundaries.
        regions = [(3 * block - 100_000, 409_600), (10_000_000, 409_600)]
        changed = self._changed_file("v2", data, regions)
        delta = checkpoint.upload(self.client, self.path("v2"), basis=basis["id"], block_size=block)
        # The changed bytes plus at most two partial blocks per region, and the frames' headers.
        self.assertLessEqual(delta["wire_bytes"], sum(n for _, n in regions) + len(regions) * 2 * block + 1024)
        self.assertLess(delta["wire_bytes"], size * 0.1)
        self.assertLess(delta["new_bytes"], size // 4)
        # The same artefact a plain upload of the same bytes makes.
        plain = checkpoint.upload(self.client, self.path("v2"))
        self.assertEqual(plain["id"], delta["id"])
        self.assertEqual(plain["new_chunks"], 0)
        self.assertEqual(checkpoint.download(self.client, delta["id"], self.path("back")), size)
        with open(self.path("back"), "rb") as f:
            self.assertEqual(f.read(), changed)

    def test_delta_upload_of_bytes_and_of_a_grown_file(self) -> None:
        block = 256 * 1024
        first = os.urandom(5 * block + 1000)
        basis = checkpoint.upload(self.client, first)
        grown = first[:4 * block] + os.urandom(block) + first[5 * block:] + os.urandom(3 * block)
        delta = checkpoint.upload(self.client, memoryview(grown), basis=basis["id"], block_size=block)
        self.assertEqual(delta["id"], checkpoint.upload(self.client, grown)["id"])
        # Blocks 0-3 copied; block 4 changed, the short last block of the basis and the tail are literals.
        self.assertLess(delta["wire_bytes"], len(grown) - 4 * block + 100)
        self.assertGreaterEqual(delta["wire_bytes"], len(grown) - 4 * block)

    def test_unknown_basis_falls_back_to_a_plain_upload(self) -> None:
        data = os.urandom(400_000)
        answer = checkpoint.upload(self.client, data, basis="0" * 64)
        self.assertEqual(answer["wire_bytes"], len(data))
        self.assertEqual(answer["id"], checkpoint.upload(self.client, data)["id"])

    def test_save_uses_the_latest_shard_as_basis(self) -> None:
        job = unique("job")
        size = 8 * 1024 * 1024
        shards = [bytearray(os.urandom(size)) for _ in range(2)]
        first = _save_all(job, "c1", 1, 2, [bytes(s) for s in shards])
        self.assertTrue(all(a["upload"]["wire_bytes"] == size for a in first))  # no basis yet: plain
        changed = [self._changed_file(f"r{r}.bin", shards[r], [(2_000_000 + r * 1_000_000, 200_000)]) for r in range(2)]
        for rank in range(2):
            answer = checkpoint.save(self.client, job, "c2", rank, 2, 2, self.path(f"r{rank}.bin"), state={"step": 2})
            # One region of 200 KB over at most two 256 KiB blocks.
            self.assertLessEqual(answer["upload"]["wire_bytes"], 2 * checkpoint.DELTA_BLOCK_SIZE + 100)
        self.assertEqual(checkpoint.get(self.client, job)["id"], "c2")
        for rank in range(2):
            meta = checkpoint.load(self.client, job, rank, self.path(f"back{rank}"))
            self.assertEqual((meta["id"], meta["state"]), ("c2", {"step": 2}))
            with open(self.path(f"back{rank}"), "rb") as f:
                self.assertEqual(f.read(), changed[rank])
        # basis=None sends the whole shard.
        whole = checkpoint.save(self.client, job, "c3", 0, 2, 3, changed[0], basis=None)
        self.assertEqual(whole["upload"]["wire_bytes"], size)

    @unittest.skipIf(torch is None, "torch is not installed")
    def test_torch_state_dict_round_trip(self) -> None:
        job = unique("job")
        model = torch.nn.Linear(16, 4)
        torch.save(model.state_dict(), self.path("model.pt"))
        checkpoint.save(self.client, job, "t1", 0, 1, 100, self.path("model.pt"), state={"epoch": 3})
        meta = checkpoint.load(self.client, job, 0, self.path("loaded.pt"))
        restored = torch.nn.Linear(16, 4)
        restored.load_state_dict(torch.load(self.path("loaded.pt")))
        self.assertEqual(meta["state"], {"epoch": 3})
        for name, value in model.state_dict().items():
            self.assertTrue(torch.equal(value, restored.state_dict()[name]), name)


if __name__ == "__main__":
    unittest.main()
