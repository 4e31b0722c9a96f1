"""strata.torch: a DataLoader with workers over a dataset with tensor fields, 2 ranks x 2 workers, exact resume."""

from __future__ import annotations

import unittest

import torch

import strata
import strata.torch as st

from .support import gateway_url, global_index, interleave, make_dataset

SAMPLES = 90
BATCH = 4


class TorchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.url = gateway_url()
        cls.client = strata.Client(cls.url)
        _, cls.name, cls.info = make_dataset(cls.client, SAMPLES, partitions=2, span_samples=6)

    def whole(self, seed: int, epoch: int = 0) -> list[int]:
        ds = strata.Dataset(self.url, self.name, seed=seed, epoch=epoch, rank=0, world_size=1)
        return [global_index(ds.info, s) for s in ds]

    def rank_batches(self, loader: st.StatefulLoader, limit: int | None = None) -> list[int]:
        got: list[int] = []
        for n, batch in enumerate(loader, start=1):
            self.assertIsInstance(batch["x"], torch.Tensor)
            self.assertEqual(batch["x"].dtype, torch.float32)
            self.assertEqual(tuple(batch["x"].shape[1:]), (2, 3))
            # Each sample's tensor holds its own number: the rows match the samples of the batch.
            self.assertTrue(torch.equal(batch["x"][:, 0, 0], batch["i"].to(torch.float32)))
            got.extend(global_index(self.info, {"i": int(i)}) for i in batch["i"])
            if n == limit:
                break  # the loop received `limit` batches
        return got

    def test_two_ranks_of_two_dataloader_workers_give_the_global_order(self) -> None:
        whole = self.whole(seed=11)
        per_rank = []
        for rank in range(2):
            dataset = st.StrataDataset(self.url, self.name, batch_size=BATCH, seed=11, rank=rank, world_size=2)
            loader = st.StatefulLoader(dataset, batch_size=BATCH, num_workers=2)
            self.assertEqual(len(dataset), SAMPLES // 2)
            self.assertEqual(len(loader), -(-(SAMPLES // 2) // BATCH))
            per_rank.append(self.rank_batches(loader))
        self.assertEqual(interleave(per_rank), whole)

    def test_loader_state_counts_what_the_loop_received_and_resumes_exactly(self) -> None:
        whole = self.whole(seed=12, epoch=1)
        # Two ranks x batch 4 (global batch 8) stop after 3 batches each; the workers prefetched more.
        states = []
        per_rank = []
        for rank in range(2):
            dataset = st.StrataDataset(self.url, self.name, batch_size=BATCH, seed=12, epoch=1, rank=rank, world_size=2)
            loader = st.StatefulLoader(dataset, batch_size=BATCH, num_workers=2, prefetch_factor=4)
            per_rank.append(self.rank_batches(loader, limit=3))
            states.append(loader.state_dict())
        self.assertEqual(states[0], states[1])
        self.assertEqual(states[0]["sample_in_epoch"], 24)
        self.assertEqual(interleave(per_rank), whole[:24])
        # Resumed on one rank with batch 8 (the same global batch) and three workers: exactly the rest.
        dataset = st.StrataDataset(self.url, self.name, batch_size=8, rank=0, world_size=1)
        loader = st.StatefulLoader(dataset, batch_size=8, num_workers=3)
        loader.load_state_dict(states[0])
        self.assertEqual(self.rank_batches(loader), whole[24:])
        self.assertEqual(loader.state_dict()["sample_in_epoch"], SAMPLES)

    def test_bf16_tensors_as_torch(self) -> None:
        stream = "py/bf16-" + self.name
        self.client.create_stream(stream)
        values = torch.tensor([[1.5, -2.0], [0.25, 8.0]], dtype=torch.bfloat16)
        self.client.publish(stream, [{"fields": {"w": values}}])
        name = self.name + "-bf16"
        self.client.create_dataset(name, stream)
        loader = st.StatefulLoader(st.StrataDataset(self.url, name, batch_size=1, rank=0, world_size=1), batch_size=1, num_workers=1)
        (batch,) = list(loader)
        self.assertEqual(batch["w"].dtype, torch.bfloat16)
        self.assertTrue(torch.equal(batch["w"][0], values))


if __name__ == "__main__":
    unittest.main()
