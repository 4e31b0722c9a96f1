"""All-or-none training checkpoints: each rank saves its shard, a restart loads the latest complete one.

    import torch, strata
    from strata import checkpoint

    client = strata.Client("http://127.0.0.1:7070")
    torch.save(model.state_dict(), "/tmp/shard.pt")
    checkpoint.save(client, "run-7", "step-1000", rank, world_size, 1000, "/tmp/shard.pt", state={"epoch": 3})
    ...
    meta = checkpoint.load(client, "run-7", rank, "/tmp/shard.pt")   # the latest complete checkpoint
    model.load_state_dict(torch.load("/tmp/shard.pt"))
    resume_from = meta["state"]

``save`` uploads the shard with ``POST /v1/artefacts`` (the gateway chunks it and stores only the
chunks it lacks; the whole shard still crosses the wire), then commits it with
``PUT /v1/jobs/{job}/checkpoints/{id}/ranks/{rank}``. The checkpoint becomes visible only when all
``world_size`` ranks committed the same step: a rank that dies before its commit leaves the previous
checkpoint the latest. ``load`` downloads this rank's shard in ranges into a temporary file next
to ``out_path`` and renames it over ``out_path`` only once every byte arrived.
"""

from __future__ import annotations

import builtins
import logging
import os
import tempfile
from typing import IO, Any, Mapping
from urllib.parse import quote, urlencode

from .client import Client
from .errors import StrataError

log = logging.getLogger("strata.checkpoint")

# Bytes read from a shard file per piece of the upload, and per range request of a download.
_UPLOAD_PIECE = 1 << 20
_DOWNLOAD_RANGE = 16 << 20
_DEFAULT_MEDIA_TYPE = "application/octet-stream"


def _segment(name: str) -> str:
    return quote(name, safe="")


class _FileBody:
    """A shard file as a request body read in 1 MiB pieces; after EOF it starts over (a retried request)."""

    def __init__(self, file: IO[bytes]) -> None:
        self._file = file
        self._at_end = False
        self.sent = 0

    def read(self, _size: int = -1) -> bytes:
        if self._at_end:
            self._file.seek(0)
            self._at_end = False
            self.sent = 0
        piece = self._file.read(_UPLOAD_PIECE)
        if not piece:
            self._at_end = True
        self.sent += len(piece)
        return piece


def upload(client: Client, source: str | os.PathLike[str] | bytes | bytearray | memoryview, media_type: str = _DEFAULT_MEDIA_TYPE) -> dict:
    """Stores a file (streamed from disk) or bytes as an artefact: ``{"id", "size", "chunks", "new_chunks", "new_bytes"}``."""
    path = f"/v1/artefacts?{urlencode({'media_type': media_type})}"
    session = client.session()
    if isinstance(source, (bytes, bytearray, memoryview)):
        response = session.request("POST", path, bytes(source), _DEFAULT_MEDIA_TYPE, idempotent=False)
        expected = len(source)
    else:
        with open(source, "rb") as file:
            expected = os.fstat(file.fileno()).st_size
            body = _FileBody(file)
            response = session.request("POST", path, body, _DEFAULT_MEDIA_TYPE, idempotent=False)
            if body.sent != expected:
                raise StrataError("CORRUPT_DATA", f"{os.fspath(source)} changed while it was uploaded ({expected} bytes at start, {body.sent} sent)")
    answer = response.decode()
    if answer["size"] != expected:
        raise StrataError("CORRUPT_DATA", f"the gateway stored {answer['size']} bytes of a {expected}-byte upload")
    return answer


def artefact_size(client: Client, artefact: str) -> int:
    """The byte size of a stored artefact, from its manifest."""
    return int(client._call("GET", f"/v1/manifests/{_segment(artefact)}")["size"])


def download(client: Client, artefact: str, out_path: str | os.PathLike[str], size: int | None = None) -> int:
    """Writes an artefact to ``out_path`` atomically (a temporary file renamed over it); answers its size."""
    total = artefact_size(client, artefact) if size is None else size
    session = client.session()
    target = os.fspath(out_path)
    fd, temp = tempfile.mkstemp(prefix=".strata-", suffix=".part", dir=os.path.dirname(os.path.abspath(target)))
    try:
        with os.fdopen(fd, "wb") as out:
            written = 0
            while written < total:
                end = min(total, written + _DOWNLOAD_RANGE)
                # Each range is a separate request, so a gateway restart costs one range, not the file.
                response = session.request("GET", f"/v1/artefacts/{_segment(artefact)}", headers={"Range": f"bytes={written}-{end - 1}", "Accept": "*/*"})
                if response.status != 206 or len(response.body) != end - written:
                    raise StrataError("CORRUPT_DATA", f"artefact {artefact}: asked bytes {written}-{end - 1}, got status {response.status} with {len(response.body)} bytes")
                out.write(response.body)
                written = end
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise
    return total


def save(
    client: Client,
    job: str,
    id: str,  # noqa: A002 - the checkpoint id, as the API names it
    rank: int,
    world_size: int,
    step: int,
    path_or_bytes: str | os.PathLike[str] | bytes | bytearray | memoryview,
    state: Mapping[str, Any] | None = None,
    media_type: str = _DEFAULT_MEDIA_TYPE,
) -> dict:
    """Uploads this rank's shard and commits it to checkpoint ``id`` of ``job`` at ``step``.

    Answers the commit: ``{"job", "id", "rank", "step", "world_size", "committed", "complete"}``
    (``complete`` once every rank committed), with ``"upload"``: the upload's answer (``"new_bytes"``:
    what the gateway stored of this shard; the rest it held already). Ranks that disagree on ``step`` or ``world_size``, or a
    rank committing a different shard twice, raise ``StrataError("CHECKPOINT_CONFLICT")``.
    """
    uploaded = upload(client, path_or_bytes, media_type)
    body: dict[str, Any] = {"artefact": uploaded["id"], "world_size": int(world_size), "step": int(step)}
    if state is not None:
        body["state"] = dict(state)
    answer = client._call("PUT", f"/v1/jobs/{_segment(job)}/checkpoints/{_segment(id)}/ranks/{int(rank)}", body)
    log.debug("rank %d committed %s/%s: %d of %d ranks in", rank, job, id, answer["committed"], answer["world_size"])
    return {**answer, "upload": uploaded}


def list(client: Client, job: str) -> builtins.list[dict]:  # noqa: A001 - strata.checkpoint.list, as documented
    """The job's complete checkpoints, newest first (each with every rank's artefact and state)."""
    return client._call("GET", f"/v1/jobs/{_segment(job)}/checkpoints")["checkpoints"]


def get(client: Client, job: str, id: str | None = None) -> dict:  # noqa: A002
    """A complete checkpoint (the latest when ``id`` is None); ``StrataError("NOT_FOUND")`` when there is none."""
    which = "latest" if id is None else _segment(id)
    return client._call("GET", f"/v1/jobs/{_segment(job)}/checkpoints/{which}")


def set_keep(client: Client, job: str, n: int) -> dict:
    """Keeps the job's last ``n`` complete checkpoints; older ones are released to artefact GC."""
    return client._call("PUT", f"/v1/jobs/{_segment(job)}", {"keep": int(n)})


def load(client: Client, job: str, rank: int, out_path: str | os.PathLike[str], id: str | None = None) -> dict:  # noqa: A002
    """Downloads this rank's shard of the latest complete checkpoint (or ``id``) into ``out_path``.

    Answers the checkpoint's ``{"job", "id", "step", "world_size", "completed_at", "ranks"}`` with
    this rank's ``"rank"``, ``"artefact"``, ``"size"`` and ``"state"`` added.
    """
    meta = get(client, job, id)
    mine = next((r for r in meta["ranks"] if r["rank"] == int(rank)), None)
    if mine is None:
        raise StrataError("NOT_FOUND", f"checkpoint {job}/{meta['id']} has no rank {rank} (world size {meta['world_size']})")
    size = download(client, mine["artefact"], out_path)
    return {**meta, "rank": int(rank), "artefact": mine["artefact"], "size": size, "state": mine.get("state")}
