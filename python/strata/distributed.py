"""Rank and world size of this process: torch.distributed when initialised, else RANK / WORLD_SIZE, else 0 / 1."""

from __future__ import annotations

import os
import sys

from .errors import StrataError


def _from_torch() -> tuple[int, int] | None:
    torch = sys.modules.get("torch")  # only when the program imported torch: never import it here
    if torch is None:
        return None
    dist = getattr(torch, "distributed", None)
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return None
    return dist.get_rank(), dist.get_world_size()


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise StrataError("BAD_REQUEST", f"{name}={value!r} is not an integer") from None


def rank_and_world_size(rank: int | None = None, world_size: int | None = None) -> tuple[int, int]:
    """The explicit values when given, else the defaults above; checked 0 <= rank < world_size."""
    if rank is None or world_size is None:
        found = _from_torch()
        if found is None:
            env_rank, env_world = _env_int("RANK"), _env_int("WORLD_SIZE")
            found = (env_rank if env_rank is not None else 0, env_world if env_world is not None else 1)
        rank = found[0] if rank is None else rank
        world_size = found[1] if world_size is None else world_size
    if isinstance(rank, bool) or isinstance(world_size, bool) or not isinstance(rank, int) or not isinstance(world_size, int) or world_size < 1 or not 0 <= rank < world_size:
        raise StrataError("BAD_REQUEST", f"rank {rank!r} of world size {world_size!r}: need 0 <= rank < world_size")
    return rank, world_size
