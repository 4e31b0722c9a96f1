"""Rank and world size defaults: explicit values, then torch.distributed when initialised, then RANK / WORLD_SIZE, then 0 / 1."""

from __future__ import annotations

import os
import tempfile
import unittest
from unittest import mock

import strata
from strata.distributed import rank_and_world_size


class DistributedTest(unittest.TestCase):
    def test_defaults_and_environment(self) -> None:
        with mock.patch.dict(os.environ, {}, clear=False):
            os.environ.pop("RANK", None)
            os.environ.pop("WORLD_SIZE", None)
            self.assertEqual(rank_and_world_size(), (0, 1))
            os.environ.update({"RANK": "3", "WORLD_SIZE": "4"})
            self.assertEqual(rank_and_world_size(), (3, 4))
            self.assertEqual(rank_and_world_size(rank=1, world_size=2), (1, 2))
            os.environ["RANK"] = "x"
            with self.assertRaises(strata.StrataError):
                rank_and_world_size()

    def test_out_of_range_is_refused(self) -> None:
        for rank, world in ((2, 2), (-1, 2), (0, 0)):
            with self.assertRaises(strata.StrataError) as caught:
                rank_and_world_size(rank, world)
            self.assertEqual(caught.exception.code, "BAD_REQUEST")

    def test_torch_distributed_when_initialised(self) -> None:
        try:
            import torch.distributed as dist
        except ImportError:
            self.skipTest("torch is not installed")
        if not dist.is_available():
            self.skipTest("torch.distributed is not available")
        with tempfile.TemporaryDirectory() as tmp:
            dist.init_process_group("gloo", init_method=f"file://{tmp}/rendezvous", rank=0, world_size=1)
            try:
                with mock.patch.dict(os.environ, {"RANK": "5", "WORLD_SIZE": "9"}):
                    self.assertEqual(rank_and_world_size(), (0, 1))
            finally:
                dist.destroy_process_group()


if __name__ == "__main__":
    unittest.main()
