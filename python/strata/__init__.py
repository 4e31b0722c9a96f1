"""Strata's Python client: streams, datasets with a deterministic per-rank order, exact resume.

Pure Python on the standard library plus ``msgpack`` and ``numpy``; ``strata.torch`` needs torch.
"""

from .client import Client
from .dataset import Dataset
from .errors import StrataError
from .wire import ArtefactRef, Tensor

__all__ = ["ArtefactRef", "Client", "Dataset", "StrataError", "Tensor"]

from . import queues  # noqa: E402  work queues: strata.queues.claim/ack/nack/work
from . import grad  # noqa: E402  gradient exchange with a quorum: strata.grad.allreduce_quorum
from . import checkpoint  # noqa: E402  all-or-none checkpoints: strata.checkpoint.save/load/list/set_keep
from . import params  # noqa: E402  live parameters on a compacted stream: strata.params.set/latest/watch
from . import trace  # noqa: E402  record tracing: strata.trace.derived_headers, Client.publish(derived_from=)
