"""strata.grad: quorum all-reduce against a real gateway and real aggregator processes.

test/python/grad.test.ts starts the gateway and two ``strata aggregate`` processes and names their
streams: STRATA_GRAD_STREAM (``--quorum 0.8``, a long deadline: means come from the quorum) and
STRATA_GRAD_DEADLINE_STREAM (``--quorum 1.0``, a 3 s deadline: a missing rank makes a deadline
mean). Tests share a stream and keep to their own steps. Ranks are threads, each with its own
Client (its own connection and mean-stream cursor, as a rank process has).
"""

from __future__ import annotations

import os
import threading
import time
import unittest
from typing import Any, Callable

import numpy as np

import strata
from strata import grad

from .support import gateway_url, unique

WORLD = 5


def _stream(variable: str) -> str:
    name = os.environ.get(variable)
    if not name:
        raise RuntimeError(f"{variable} names a gradient stream with an aggregator (test/python/grad.test.ts sets it)")
    return name


def _gradients(step: int, rank: int, dtype: Any = np.float32) -> dict[str, np.ndarray]:
    """Rank r's gradients at a step: distinct values per rank, step and tensor."""
    rng = np.random.default_rng(step * 1000 + rank)
    return {
        "layer.weight": rng.standard_normal((8, 16)).astype(dtype),
        "layer.bias": rng.standard_normal(16).astype(dtype),
    }


def _run_ranks(ranks: list[int], work: Callable[[strata.Client, int], Any]) -> dict[int, Any]:
    """Runs ``work(client, rank)`` for each rank on its own thread and client; answers results (or raised errors) by rank."""
    results: dict[int, Any] = {}

    def run(rank: int) -> None:
        client = strata.Client(gateway_url())
        try:
            results[rank] = work(client, rank)
        except BaseException as error:  # noqa: BLE001 - reported by the test that expects a result
            results[rank] = error
        finally:
            client.close()

    threads = [threading.Thread(target=run, args=(rank,)) for rank in ranks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


class QuorumAllReduceTest(unittest.TestCase):
    stream = ""
    steps = iter(range(0))

    @classmethod
    def setUpClass(cls) -> None:
        cls.stream = _stream("STRATA_GRAD_STREAM")
        # Each test takes fresh steps of the shared stream; ranks of one test agree on them.
        cls.steps = iter(range(1_000_000))

    def step(self) -> int:
        return next(type(self).steps)

    def assertMeanOf(self, mean: dict[str, np.ndarray], inputs: dict[int, dict[str, np.ndarray]], contributors: list[int], rtol: float = 1e-6) -> None:
        self.assertEqual(sorted(mean), sorted(inputs[contributors[0]]))
        for name, got in mean.items():
            expected = np.mean([inputs[r][name].astype(np.float64) for r in contributors], axis=0)
            self.assertEqual(got.shape, expected.shape, name)
            self.assertEqual(got.dtype, inputs[contributors[0]][name].dtype, name)
            self.assertTrue(got.flags.writeable, name)
            np.testing.assert_allclose(got.astype(np.float64), expected, rtol=rtol, atol=rtol, err_msg=name)

    def test_five_ranks_at_quorum_0_8_with_a_silent_rank_complete_with_four_named(self) -> None:
        step = self.step()
        inputs = {rank: _gradients(step, rank) for rank in range(WORLD)}
        # Rank 2 stays silent: the quorum is ceil(0.8 x 5) = 4.
        results = _run_ranks([0, 1, 3, 4], lambda client, rank: grad.allreduce_quorum(client, self.stream, step, inputs[rank], rank, WORLD, quorum=0.8, timeout_s=60))
        for rank, result in results.items():
            self.assertNotIsInstance(result, BaseException, f"rank {rank}: {result!r}")
            mean, contributors = result
            self.assertEqual(contributors, [0, 1, 3, 4], rank)
            self.assertTrue(grad.quorum_met(contributors, WORLD, 0.8))
            self.assertMeanOf(mean, inputs, contributors)

    def test_a_wrong_shape_is_refused_and_the_steps_mean_is_unaffected(self) -> None:
        step = self.step()
        inputs = {rank: _gradients(step, rank) for rank in range(WORLD)}
        first = strata.Client(gateway_url())
        try:
            # Rank 0's contribution is the step's first: it fixes the names, dtypes and shapes.
            grad.contribute(first, self.stream, step, inputs[0], 0, WORLD)
            wrong = {**inputs[4], "layer.bias": np.zeros(17, dtype=np.float32)}
            with self.assertRaises(strata.StrataError) as raised:
                grad.allreduce_quorum(first, self.stream, step, wrong, 4, WORLD, timeout_s=30)
            self.assertEqual(raised.exception.code, "TENSOR_MISMATCH")
            self.assertEqual(raised.exception.status, 400)
            wrong_dtype = {**inputs[4], "layer.bias": inputs[4]["layer.bias"].astype(np.float16)}
            with self.assertRaises(strata.StrataError) as raised:
                grad.contribute(first, self.stream, step, wrong_dtype, 4, WORLD)
            self.assertEqual(raised.exception.code, "TENSOR_MISMATCH")
            results = _run_ranks([1, 2, 3], lambda client, rank: grad.allreduce_quorum(client, self.stream, step, inputs[rank], rank, WORLD, timeout_s=60))
            record = grad.wait_for_mean(first, self.stream, step, 60)
        finally:
            first.close()
        self.assertEqual(sorted(record["fields"]["contributors"]), [0, 1, 2, 3])
        for rank, result in results.items():
            self.assertNotIsInstance(result, BaseException, f"rank {rank}: {result!r}")
            mean, contributors = result
            self.assertEqual(contributors, [0, 1, 2, 3])
            self.assertMeanOf(mean, inputs, contributors)

    def test_consecutive_steps_each_answer_their_own_mean(self) -> None:
        steps = [self.step() for _ in range(4)]
        inputs = {step: {rank: _gradients(step, rank) for rank in range(WORLD)} for step in steps}

        def train(client: strata.Client, rank: int) -> list[tuple[dict[str, np.ndarray], list[int]]]:
            return [grad.allreduce_quorum(client, self.stream, step, inputs[step][rank], rank, WORLD, timeout_s=60) for step in steps]

        results = _run_ranks(list(range(WORLD)), train)
        for rank, result in results.items():
            self.assertNotIsInstance(result, BaseException, f"rank {rank}: {result!r}")
            for step, (mean, contributors) in zip(steps, result):
                # All five contribute; the mean is published at the fourth, so the fifth may miss it.
                self.assertGreaterEqual(len(contributors), 4, step)
                self.assertTrue(set(contributors) <= set(range(WORLD)), contributors)
                self.assertMeanOf(mean, inputs[step], contributors)
        for step_index in range(len(steps)):
            answers = {tuple(result[step_index][1]) for result in results.values()}
            self.assertEqual(len(answers), 1, f"ranks saw different contributors for step {steps[step_index]}: {answers}")

    def test_float16_gradients_average_as_float16(self) -> None:
        step = self.step()
        inputs = {rank: _gradients(step, rank, np.float16) for rank in range(WORLD)}
        results = _run_ranks([0, 1, 2, 3], lambda client, rank: grad.allreduce_quorum(client, self.stream, step, inputs[rank], rank, WORLD, timeout_s=60))
        for rank, result in results.items():
            self.assertNotIsInstance(result, BaseException, f"rank {rank}: {result!r}")
            mean, contributors = result
            self.assertEqual(contributors, [0, 1, 2, 3])
            self.assertMeanOf(mean, inputs, contributors, rtol=2e-3)

    def test_bfloat16_torch_tensors_average_as_bfloat16_bits(self) -> None:
        try:
            import torch
        except ImportError:
            self.skipTest("torch is not installed")
        step = self.step()
        inputs = {rank: {name: torch.from_numpy(a).to(torch.bfloat16) for name, a in _gradients(step, rank).items()} for rank in range(WORLD)}
        results = _run_ranks([0, 1, 2, 3], lambda client, rank: grad.allreduce_quorum(client, self.stream, step, inputs[rank], rank, WORLD, timeout_s=60))
        for rank, result in results.items():
            self.assertNotIsInstance(result, BaseException, f"rank {rank}: {result!r}")
            mean, contributors = result
            self.assertEqual(contributors, [0, 1, 2, 3])
            for name, bits in mean.items():
                self.assertEqual(bits.dtype, np.uint16, name)
                got = torch.from_numpy(bits.view(np.int16)).view(torch.bfloat16).float().numpy()
                expected = np.mean([inputs[r][name].float().numpy() for r in contributors], axis=0)
                np.testing.assert_allclose(got, expected, rtol=1e-2, atol=1e-2, err_msg=name)

    def test_a_caller_expecting_more_than_the_aggregators_quorum_is_refused(self) -> None:
        step = self.step()
        inputs = {rank: _gradients(step, rank) for rank in range(WORLD)}
        # The aggregator publishes at 4 of 5 (its --quorum 0.8): a caller asking for 1.0 learns it did.
        results = _run_ranks([0, 1, 2, 3], lambda client, rank: grad.allreduce_quorum(client, self.stream, step, inputs[rank], rank, WORLD, quorum=1.0, timeout_s=60))
        for rank, result in results.items():
            self.assertIsInstance(result, strata.StrataError, rank)
            self.assertEqual(result.code, "QUORUM_NOT_MET", rank)

    def test_a_fresh_client_finds_a_past_step(self) -> None:
        step = self.step()
        inputs = {rank: _gradients(step, rank) for rank in range(WORLD)}
        results = _run_ranks([0, 1, 2, 3], lambda client, rank: grad.allreduce_quorum(client, self.stream, step, inputs[rank], rank, WORLD, timeout_s=60))
        self.assertNotIsInstance(results[0], BaseException, repr(results[0]))
        restarted = strata.Client(gateway_url())  # a rank process after a restart: no cursor yet
        try:
            record = grad.wait_for_mean(restarted, self.stream, step, 10)
        finally:
            restarted.close()
        self.assertEqual(record["key"], str(step).encode())
        self.assertEqual(sorted(record["fields"]["contributors"]), [0, 1, 2, 3])


class DeadlineMeanTest(unittest.TestCase):
    def test_a_missing_rank_makes_a_deadline_mean_the_caller_can_tell(self) -> None:
        stream = _stream("STRATA_GRAD_DEADLINE_STREAM")
        world = 4
        inputs = {rank: _gradients(0, rank) for rank in range(world)}
        # The aggregator wants all 4 (--quorum 1.0); rank 3 is silent, so its deadline publishes 3.
        results = _run_ranks([0, 1, 2], lambda client, rank: grad.allreduce_quorum(client, stream, 0, inputs[rank], rank, world, quorum=1.0, timeout_s=60))
        for rank, result in results.items():
            self.assertNotIsInstance(result, BaseException, f"rank {rank}: {result!r}")
            mean, contributors = result
            self.assertEqual(contributors, [0, 1, 2])
            self.assertFalse(grad.quorum_met(contributors, world, 1.0))
            for name, got in mean.items():
                np.testing.assert_allclose(got, np.mean([inputs[r][name] for r in contributors], axis=0), rtol=1e-6, atol=1e-6)
        client = strata.Client(gateway_url())
        try:
            self.assertTrue(grad.from_deadline(grad.wait_for_mean(client, stream, 0, 10)))
        finally:
            client.close()


class MeanCursorTest(unittest.TestCase):
    """The cursor on a mean stream, over means written here (no aggregator on these streams)."""

    def setUp(self) -> None:
        self.client = strata.Client(gateway_url())
        self.stream = unique("py/grad-cursor")
        self.client.create_stream(grad.mean_stream(self.stream))
        means = [
            {"key": str(step), "headers": {"contributors": "0", "quorum": "1", "world_size": "1"}, "fields": {"step": step, "world_size": 1, "contributors": [0], "tensors": {"g": np.full(4, step, dtype=np.float32)}}}
            for step in range(300)
        ]
        self.client.publish(grad.mean_stream(self.stream), means)

    def tearDown(self) -> None:
        self.client.close()

    def test_a_fresh_cursor_scans_back_from_the_end_for_an_old_step(self) -> None:
        for step in (299, 3, 150, 0):
            record = grad.wait_for_mean(self.client, self.stream, step, 10)
            self.assertEqual(record["fields"]["step"], step)
            np.testing.assert_array_equal(record["fields"]["tensors"]["g"], np.full(4, step, dtype=np.float32))

    def test_a_step_never_published_times_out(self) -> None:
        with self.assertRaises(strata.StrataError) as raised:
            grad.wait_for_mean(self.client, self.stream, 1_000, 0.5)
        self.assertEqual(raised.exception.code, "TIMEOUT")

    def test_the_wait_ends_when_the_step_is_published(self) -> None:
        published = threading.Event()

        def publish_later() -> None:
            other = strata.Client(gateway_url())
            try:
                # Waits for the reader to be at the end of the stream, then publishes the step.
                while not self.client_waiting():
                    time.sleep(0.01)
                other.publish(grad.mean_stream(self.stream), [{"key": "300", "headers": {"quorum": "1"}, "fields": {"step": 300, "world_size": 1, "contributors": [0], "tensors": {"g": np.zeros(1, dtype=np.float32)}}}])
                published.set()
            finally:
                other.close()

        thread = threading.Thread(target=publish_later)
        thread.start()
        record = grad.wait_for_mean(self.client, self.stream, 300, 30)
        thread.join()
        self.assertTrue(published.is_set())
        self.assertEqual(record["offset"], 300)

    def client_waiting(self) -> bool:
        cursor = grad._cursor_of(self.client, self.stream)  # noqa: SLF001 - the test watches the cursor reach the end
        return isinstance(cursor.state, grad._Scanning) and cursor.state.next >= 300  # noqa: SLF001

    def test_arguments_are_checked_before_anything_is_sent(self) -> None:
        cases = [
            ({"g": np.zeros(2, dtype=np.float64)}, 0, 2),
            ({"g": np.zeros(2, dtype=np.int32)}, 0, 2),
            ({}, 0, 2),
            ({"g": np.zeros(2, dtype=np.float32)}, 2, 2),
            ({"g": np.zeros(2, dtype=np.float32)}, -1, 2),
        ]
        for tensors, rank, world in cases:
            with self.assertRaises(strata.StrataError) as raised:
                grad.allreduce_quorum(self.client, self.stream, 0, tensors, rank, world, timeout_s=1)
            self.assertEqual(raised.exception.code, "BAD_REQUEST", (tensors, rank, world))
        with self.assertRaises(strata.StrataError):
            grad.allreduce_quorum(self.client, self.stream, 0, {"g": np.zeros(2, dtype=np.float32)}, 0, 2, quorum=1.5)


if __name__ == "__main__":
    unittest.main()
