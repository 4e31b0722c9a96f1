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
chunks it lacks). With a basis (by default this rank's shard of the job's latest complete
checkpoint) the upload is a delta: the file is cut into blocks (256 KiB for files up to 4 GiB)
hashed with sha256 as it is read, blocks equal to the basis's are sent as copies and only the rest crosses the wire
(docs/artefact-protocol.md, "Delta uploads"); the artefact is the one a plain upload makes. Then
``save`` commits the shard with
``PUT /v1/jobs/{job}/checkpoints/{id}/ranks/{rank}``. The checkpoint becomes visible only when all
``world_size`` ranks committed the same step: a rank that dies before its commit leaves the previous
checkpoint the latest. ``load`` downloads this rank's shard in ranges into a temporary file next
to ``out_path`` and renames it over ``out_path`` only once every byte arrived.
"""

from __future__ import annotations

import builtins
import hashlib
import logging
import os
import struct
import tempfile
from typing import IO, Any, Iterator, Mapping, Union
from urllib.parse import quote, urlencode

from .client import Client
from .errors import StrataError

log = logging.getLogger("strata.checkpoint")

# Bytes read from a shard file per piece of the upload, and per range request of a download.
_UPLOAD_PIECE = 1 << 20
_DOWNLOAD_RANGE = 16 << 20
_DEFAULT_MEDIA_TYPE = "application/octet-stream"
# Delta uploads: the smallest block size (the gateway accepts artefacts.deltaMinBlockBytes..
# deltaMaxBlockBytes, 256 KiB..16 MiB by default), the most blocks a file is cut into before the
# block size doubles (under artefacts.deltaMaxBlocks), and the frames of the body: 'C' u32 index
# u32 count, 'L' u32 length bytes. A changed region costs up to a block on each side of it.
DELTA_BLOCK_SIZE = 256 << 10
_DELTA_MAX_BLOCK_SIZE = 16 << 20
_DELTA_TARGET_BLOCKS = 16384
_COPY = struct.Struct(">BII")
_LITERAL = struct.Struct(">BI")
_COPY_TYPE = 0x43
_LITERAL_TYPE = 0x4C

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]


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


class _BytesFile:
    """Bytes read as a file, without a copy of them: read() answers views."""

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self._view = memoryview(data).cast("B")
        self._at = 0

    def read(self, size: int) -> memoryview:
        piece = self._view[self._at : self._at + size]
        self._at += len(piece)
        return piece

    def seek(self, at: int) -> None:
        self._at = at


class _DeltaBody:
    """A delta upload's frames, made as the source is read once: each block is hashed (sha256) as it
    is read, a block equal to the basis's block at the same index joins a copy run, any other is sent
    as a literal. Read in pieces by http.client (chunked); after EOF it starts over (a retried request).
    """

    def __init__(self, source: IO[bytes] | _BytesFile, digests: builtins.list[bytes], block_size: int) -> None:
        self._source = source
        self._digests = digests
        self._block_size = block_size
        self._frames: Iterator[bytes | memoryview] | None = None
        self._start()

    def _start(self) -> None:
        # Only a retry seeks back: the first pass reads a pipe too (which cannot seek).
        if self._frames is not None:
            self._source.seek(0)
        self._frames = self._make_frames()
        self._at_end = False
        self.sent = 0  # body bytes: what crosses the wire
        self.size = 0  # source bytes read
        self.copied = 0  # blocks sent as copies

    def _make_frames(self) -> Iterator[bytes | memoryview]:
        run_start, run_count = 0, 0
        index = 0
        while True:
            block = self._source.read(self._block_size)
            if not block:
                break
            self.size += len(block)
            if index < len(self._digests) and hashlib.sha256(block).digest() == self._digests[index]:
                if run_count == 0:
                    run_start = index
                run_count += 1
                self.copied += 1
            else:
                if run_count:
                    yield _COPY.pack(_COPY_TYPE, run_start, run_count)
                    run_count = 0
                yield _LITERAL.pack(_LITERAL_TYPE, len(block))
                yield block
            index += 1
        if run_count:
            yield _COPY.pack(_COPY_TYPE, run_start, run_count)

    def read(self, _size: int = -1) -> bytes | memoryview:
        if self._at_end:
            self._start()
        piece = next(self._frames, b"")
        if not piece:
            self._at_end = True
        self.sent += len(piece)
        return piece


def delta_block_size(size: int) -> int:
    """The block size for a ``size``-byte file: 256 KiB, doubled until the file has at most 16384 blocks."""
    block = DELTA_BLOCK_SIZE
    while block < _DELTA_MAX_BLOCK_SIZE and size > block * _DELTA_TARGET_BLOCKS:
        block *= 2
    return block


def _source_size(source: Source) -> int:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return memoryview(source).nbytes
    return os.stat(source).st_size


def block_digests(client: Client, basis: str, block_size: int = DELTA_BLOCK_SIZE) -> builtins.list[bytes]:
    """The sha256 digest of each ``block_size`` block of artefact ``basis`` (the last block may be short)."""
    query = urlencode({"block_size": int(block_size), "algorithm": "sha256"})
    answer = client._call("GET", f"/v1/artefacts/{_segment(basis)}/blocks?{query}")
    return [bytes.fromhex(d) for d in answer["digests"]]


def upload(client: Client, source: Source, media_type: str = _DEFAULT_MEDIA_TYPE, basis: str | None = None, block_size: int | None = None) -> dict:
    """Stores a file (streamed from disk) or bytes as an artefact: ``{"id", "size", "chunks", "new_chunks", "new_bytes", "wire_bytes"}``.

    With ``basis`` (an artefact id) only the blocks that differ from the basis's cross the wire
    (``"wire_bytes"``: the body's size); the id is the one a plain upload of the same bytes gets. A
    basis the gateway no longer holds (collected), or one with more blocks than it allows, falls
    back to the plain upload. ``block_size`` defaults to ``delta_block_size`` of the source's size.
    """
    if basis is not None:
        if block_size is None:
            block_size = delta_block_size(_source_size(source))
        try:
            digests = block_digests(client, basis, block_size)
        except StrataError as error:
            if error.code not in ("NOT_FOUND", "PAYLOAD_TOO_LARGE"):
                raise
            log.info("basis %s is not usable (%s): a plain upload", basis, error.code)
        else:
            return _delta_upload(client, source, media_type, basis, block_size, digests)
    return _plain_upload(client, source, media_type)


def _delta_upload(client: Client, source: Source, media_type: str, basis: str, block_size: int, digests: builtins.list[bytes]) -> dict:
    path = f"/v1/artefacts?{urlencode({'media_type': media_type, 'basis': basis, 'block_size': int(block_size)})}"
    session = client.session()
    if isinstance(source, (bytes, bytearray, memoryview)):
        expected = memoryview(source).nbytes
        body = _DeltaBody(_BytesFile(source), digests, block_size)
        response = session.request("POST", path, body, _DEFAULT_MEDIA_TYPE, idempotent=False)
    else:
        with open(source, "rb") as file:
            expected = os.fstat(file.fileno()).st_size
            body = _DeltaBody(file, digests, block_size)
            response = session.request("POST", path, body, _DEFAULT_MEDIA_TYPE, idempotent=False)
    if body.size != expected:
        raise StrataError("CORRUPT_DATA", f"the source changed while it was uploaded ({expected} bytes at start, {body.size} read)")
    answer = response.decode()
    if answer["size"] != expected or answer["wire_bytes"] != body.sent:
        raise StrataError("CORRUPT_DATA", f"the gateway rebuilt {answer['size']} bytes from {answer['wire_bytes']} sent of a {expected}-byte delta upload ({body.sent} sent)")
    log.debug("delta upload against %s: %d of %d bytes sent, %d blocks copied", basis, body.sent, expected, body.copied)
    return answer


def _plain_upload(client: Client, source: Source, media_type: str) -> dict:
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
    return {**answer, "wire_bytes": expected}


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
    basis: str | None = "auto",
) -> dict:
    """Uploads this rank's shard and commits it to checkpoint ``id`` of ``job`` at ``step``.

    Answers the commit: ``{"job", "id", "rank", "step", "world_size", "committed", "complete"}``
    (``complete`` once every rank committed), with ``"upload"``: the upload's answer (``"new_bytes"``:
    what the gateway stored of this shard; the rest it held already). Ranks that disagree on ``step`` or ``world_size``, or a
    rank committing a different shard twice, raise ``StrataError("CHECKPOINT_CONFLICT")``.

    ``basis``: ``"auto"`` sends only the blocks that differ from this rank's shard of the job's
    latest complete checkpoint (a plain upload when there is none), an artefact id differs from that
    artefact, None always uploads the whole shard. ``"upload"["wire_bytes"]`` is what was sent.
    """
    if basis == "auto":
        basis = _latest_shard(client, job, rank)
    uploaded = upload(client, path_or_bytes, media_type, basis=basis)
    body: dict[str, Any] = {"artefact": uploaded["id"], "world_size": int(world_size), "step": int(step)}
    if state is not None:
        body["state"] = dict(state)
    answer = client._call("PUT", f"/v1/jobs/{_segment(job)}/checkpoints/{_segment(id)}/ranks/{int(rank)}", body)
    log.debug("rank %d committed %s/%s: %d of %d ranks in", rank, job, id, answer["committed"], answer["world_size"])
    return {**answer, "upload": uploaded}


def _latest_shard(client: Client, job: str, rank: int) -> str | None:
    """This rank's artefact in the job's latest complete checkpoint, or None when there is none."""
    try:
        latest = get(client, job)
    except StrataError as error:
        if error.code == "NOT_FOUND":
            return None
        raise
    return next((r["artefact"] for r in latest["ranks"] if r["rank"] == int(rank)), None)


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
