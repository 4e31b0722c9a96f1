"""``strata.Dataset``: one rank's (and worker's) samples of a dataset version, in the epoch's order.

The order is a pure function of (version, seed, epoch, canonical buckets) computed by
``strata.order`` (docs/dataset-order.md); this class reads the samples at those positions from the
gateway and keeps the resume state. ``state_dict()`` counts global samples: what this rank's loop
received times the world size (every rank receives the same number per step), plus where the
iteration started, so a state resumes on a different world size with the same global batch.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping, Sequence

from . import order
from .client import Client
from .distributed import rank_and_world_size
from .errors import StrataError
from .span_reader import LOOKAHEAD, SpanReader

MIN_DEFAULT_PREFETCH_BYTES = 64 * 1024 * 1024
MAX_DEFAULT_PREFETCH_BYTES = 1024 * 1024 * 1024
MAX_LOOKAHEAD = 1 << 20  # positions; each costs a tuple in the reader


def working_set_bytes(info: Mapping[str, Any], touched_buckets: int) -> int:
    """Bytes of pieces a shuffled reader keeps in use: touched buckets x (BLOCK_SPANS + 1) x the average span's bytes.

    docs/dataset-order.md, "Working set". A block is BLOCK_SPANS spans' worth of samples, spread over at
    most BLOCK_SPANS + 1 pieces; positions interleave the buckets, so every touched bucket's current
    block is in use at once.
    """
    samples = int(info["samples"])
    if samples == 0:
        return 0
    span_bytes = int(info["span_samples"]) * int(info["bytes"]) / samples
    return int(touched_buckets * (order.BLOCK_SPANS + 1) * span_bytes)


def default_prefetch_bytes(info: Mapping[str, Any], touched_buckets: int, threads: int) -> int:
    """The working set plus one span per fetch thread, at most the version's bytes (with room for the
    responses' framing), within [64 MiB, 1 GiB]."""
    samples = int(info["samples"])
    span_bytes = int(info["span_samples"]) * int(info["bytes"]) / samples if samples else 0
    wanted = working_set_bytes(info, touched_buckets) + threads * span_bytes
    wanted = min(wanted, int(info["bytes"]) * 9 // 8)
    return int(min(MAX_DEFAULT_PREFETCH_BYTES, max(MIN_DEFAULT_PREFETCH_BYTES, wanted)))


class Dataset:
    def __init__(
        self,
        url: str | Client,
        name: str,
        version: int | None = None,
        seed: int = 0,
        shuffle: bool = True,
        epoch: int = 0,
        fields: Sequence[str] | None = None,
        rank: int | None = None,
        world_size: int | None = None,
        token: str | None = None,
        prefetch_bytes: int | None = None,
        batch_size: int = 1,
        worker: int = 0,
        num_workers: int = 1,
        canonical_buckets: int | None = None,
        tensor_format: str = "numpy",
        prefetch_threads: int = 2,
    ) -> None:
        self.client = url if isinstance(url, Client) else Client(url, token)
        self.name = name
        self.info: dict = self.client.dataset_version(name, "latest" if version is None else version)
        self.version: int = int(self.info["version"])
        self.seed = seed
        self.shuffle = shuffle
        self.fields = list(fields) if fields is not None else None
        self.rank, self.world_size = rank_and_world_size(rank, world_size)
        self._prefetch_bytes = prefetch_bytes  # None: default_prefetch_bytes of the version and this rank's buckets
        self.batch_size = batch_size
        self.worker = worker
        self.num_workers = num_workers
        self.tensor_format = tensor_format
        self.prefetch_threads = prefetch_threads
        self._order = order.DatasetOrder(self.info, seed=seed, canonical_buckets=canonical_buckets, shuffle=shuffle)
        self.canonical_buckets: int = self._order.canonical_buckets  # the default depends on the version's spans
        self.epoch = epoch
        self._start = 0  # sample_in_epoch the next iteration starts from
        self._yielded = 0  # samples the current iteration handed out
        self._check_place()

    @property
    def prefetch_bytes(self) -> int:
        """The read-ahead bound: as given, or the working set of this rank's buckets (default_prefetch_bytes)."""
        if self._prefetch_bytes is not None:
            return self._prefetch_bytes
        return default_prefetch_bytes(self.info, self._order.touched_buckets(self.world_size), self.prefetch_threads)

    def lookahead(self) -> int:
        """Positions the reader knows ahead: about four blocks' worth of this reader's positions, so that a piece
        read in two consecutive blocks stays cached between them (docs/dataset-order.md, "Working set")."""
        window = self._order.block_size * self._order.buckets // (self.world_size * self.num_workers)
        return min(MAX_LOOKAHEAD, max(LOOKAHEAD, 4 * window + 2 * self.batch_size * self.num_workers))

    @property
    def samples(self) -> int:
        """Samples in the dataset version."""
        return int(self.info["samples"])

    def _check_place(self) -> None:
        order._check_place(self.samples, self._start, self.rank, self.world_size, self.worker, self.num_workers, self.batch_size)

    def rank_samples(self) -> int:
        """Samples this rank reads in the rest of the epoch (from the resume point)."""
        return order.rank_sample_count(self.samples, self._start, self.world_size)

    def __len__(self) -> int:
        """This rank's sample count for the epoch from the resume point (all its workers together)."""
        return self.rank_samples()

    def worker_samples(self) -> int:
        return order.worker_sample_count(self.rank_samples(), self.worker, self.num_workers, self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Starts epoch ``epoch`` from its beginning at the next iteration."""
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise StrataError("BAD_REQUEST", f"epoch must be a non-negative integer, got {epoch!r}")
        self.epoch = epoch
        self._start = 0
        self._yielded = 0

    def place(self, worker: int, num_workers: int, batch_size: int | None = None) -> "Dataset":
        """Sets which DataLoader worker this copy of the dataset reads for (inside a worker process)."""
        self.worker = worker
        self.num_workers = num_workers
        if batch_size is not None:
            self.batch_size = batch_size
        self._check_place()
        return self

    def indexes(self) -> Iterator[int]:
        """The global sample indexes this reader reads in the rest of the epoch, lazily, in order."""
        epoch_order = self._order.epoch(self.epoch)
        return order.positions_for(epoch_order, self._start, self.rank, self.world_size, self.worker, self.num_workers, self.batch_size)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self._yielded = 0
        reader = SpanReader(
            self.client,
            self.name,
            self.version,
            self.info,
            self.indexes(),
            self.worker_samples(),
            fields=self.fields,
            prefetch_bytes=self.prefetch_bytes,
            threads=self.prefetch_threads,
            tensor_format=self.tensor_format,
            unit_of=self._order.piece_of,
            lookahead=self.lookahead(),
        )
        try:
            for sample in reader:
                self._yielded += 1
                yield sample
        finally:
            reader.close()

    def state_dict(self, received: int | None = None) -> dict[str, Any]:
        """The resume state after this rank's loop received ``received`` samples (default: what iteration yielded).

        Only exact with one worker per rank; with DataLoader workers use ``strata.torch.StatefulLoader``,
        which counts what the training loop received.
        """
        got = self._yielded if received is None else received
        return {
            "dataset": self.name,
            "version": self.version,
            "seed": self.seed,
            "epoch": self.epoch,
            "sample_in_epoch": min(self.samples, self._start + got * self.world_size),
            "canonical_buckets": self.canonical_buckets,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Resumes right after the samples a state says were received (validated: StrataError when it is not this dataset's)."""
        parsed = order.parse_state(state, name=self.name, version=self.version, samples=self.samples)
        if parsed["seed"] != self.seed or parsed["canonical_buckets"] != self.canonical_buckets:
            self.seed = parsed["seed"]
            self.canonical_buckets = parsed["canonical_buckets"]
            self._order = order.DatasetOrder(self.info, seed=self.seed, canonical_buckets=self.canonical_buckets, shuffle=self.shuffle)
        self.epoch = parsed["epoch"]
        self._start = parsed["sample_in_epoch"]
        self._yielded = 0
        self._check_place()
