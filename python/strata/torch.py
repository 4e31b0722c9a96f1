"""PyTorch adapters: ``StrataDataset`` (an IterableDataset) and ``StatefulLoader`` (exact resume).

Worker w of W reads chunks k = w, w + W, ... of ``batch_size`` consecutive samples of its rank's
sequence; the DataLoader takes one batch from each worker in turn, so the batches the training
loop sees are the rank's sequence in order, whatever W is.

``StatefulLoader`` counts the batches the loop received (not what workers prefetched): batch j
holds the rank's samples [j * B, min((j + 1) * B, n)), so after j batches the loop received
min(j * B, n) samples, and the state's ``sample_in_epoch`` is the start plus that times the world
size. Loading it starts every worker at the next sample.
"""

from __future__ import annotations

import math
from typing import Any, Iterator, Mapping

import torch.utils.data

from .dataset import Dataset
from .errors import StrataError


class StrataDataset(torch.utils.data.IterableDataset):
    """``strata.Dataset`` as an IterableDataset; same arguments. Splits by ``get_worker_info()`` in ``__iter__``."""

    def __init__(self, url: Any, name: str, batch_size: int = 1, tensor_format: str = "torch", **kwargs: Any) -> None:
        super().__init__()
        self.dataset = Dataset(url, name, batch_size=batch_size, tensor_format=tensor_format, **kwargs)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = torch.utils.data.get_worker_info()
        if info is not None:
            # This process holds its own copy of the dataset (pickled into the worker): placing it is local.
            self.dataset.place(info.id, info.num_workers)
        return iter(self.dataset)

    def __len__(self) -> int:
        return len(self.dataset)

    @property
    def batch_size(self) -> int:
        return self.dataset.batch_size

    def set_epoch(self, epoch: int) -> None:
        self.dataset.set_epoch(epoch)

    def state_dict(self, received: int | None = None) -> dict[str, Any]:
        return self.dataset.state_dict(received)

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.dataset.load_state_dict(state)


class StatefulLoader:
    """A DataLoader over a StrataDataset whose ``state_dict()`` counts what the training loop received.

    Extra keyword arguments go to ``torch.utils.data.DataLoader`` (``collate_fn``, ``pin_memory``, ...).
    """

    def __init__(self, dataset: StrataDataset, batch_size: int | None = None, num_workers: int = 0, **loader_kwargs: Any) -> None:
        if not isinstance(dataset, StrataDataset):
            raise StrataError("BAD_REQUEST", "StatefulLoader wraps a strata.torch.StrataDataset")
        if batch_size is not None and batch_size != dataset.batch_size:
            dataset.dataset.place(dataset.dataset.worker, dataset.dataset.num_workers, batch_size)
        for refused in ("shuffle", "sampler", "batch_sampler", "drop_last"):
            if refused in loader_kwargs:
                raise StrataError("BAD_REQUEST", f"{refused} is not a StatefulLoader option: the dataset's order decides which samples each batch holds")
        self.dataset = dataset
        self.num_workers = num_workers
        self._loader_kwargs = loader_kwargs
        self._batches = 0  # batches the loop received in the current iteration
        self._total = len(dataset)  # the rank's samples of the current iteration

    @property
    def batch_size(self) -> int:
        return self.dataset.batch_size

    def __len__(self) -> int:
        return math.ceil(len(self.dataset) / self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        self._batches = 0
        self._total = len(self.dataset)
        # A DataLoader per iteration: its workers get the dataset (and its resume point) as it is now.
        loader = torch.utils.data.DataLoader(self.dataset, batch_size=self.batch_size, num_workers=self.num_workers, **self._loader_kwargs)
        for batch in loader:
            self._batches += 1
            yield batch

    def received(self) -> int:
        """Samples of this rank the loop received in the current iteration."""
        return min(self._batches * self.batch_size, self._total)

    def state_dict(self) -> dict[str, Any]:
        return self.dataset.state_dict(self.received())

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.dataset.load_state_dict(state)
        self._batches = 0
        self._total = len(self.dataset)

    def set_epoch(self, epoch: int) -> None:
        self.dataset.set_epoch(epoch)
        self._batches = 0
        self._total = len(self.dataset)
