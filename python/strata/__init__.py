"""Strata's Python client: streams, datasets with a deterministic per-rank order, exact resume.

Pure Python on the standard library plus ``msgpack`` and ``numpy``; ``strata.torch`` needs torch.
"""

from .errors import StrataError

__all__ = ["StrataError"]
