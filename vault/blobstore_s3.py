"""Blobs in an S3-compatible bucket (``VAULT_STORAGE_URL=s3://bucket/prefix``).

The same contract as the local files of vault/blobstore.py, on any S3 API
(AWS, SeaweedFS, MinIO, Ceph RGW). Endpoint, region and credentials come from
the usual ``AWS_*`` variables (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``…) through boto3.

Layout: ``<prefix>/blobs/<blob id>``, one object per stored version, holding the
envelope exactly as the local file would (ciphertext only).

Writing streams: the envelope's bytes fill one reused part buffer of
`PART_SIZE` (8 MiB); each full buffer goes up as a part of a multipart upload,
so memory stays flat at any size. A blob smaller than one part is one PUT.
Both the PUT and the completion of the multipart upload are conditional
(``If-None-Match: *``): an object that exists is never overwritten, so a
version's blob is written once. The object exists only after `commit` returns,
which is before the caller commits its row; an abort, an exception in the
``with`` block, or a failed commit aborts the multipart upload. Unfinished
uploads left by a crash are listed by `list_tmp` (the temporary files of the
local store) and removed by `remove_tmp`, which `vault doctor --repair` uses.

Reading: `open` fetches the first 256 KiB (the size comes with it: no HEAD), which
is the whole of most notices and letters, and returns a seekable reader. A read
beyond them after a seek is one ranged GET
of exactly the bytes asked (the viewer and audio seeking read single segments);
a read that continues where the previous one ended opens one streaming GET from
there to the end, so a whole-file read is two requests, not one per segment.

Clients: `S3BlobStore.from_url` keeps one boto3 client per process for each client
configuration (the ``AWS_*`` variables and the options it is given): making one
costs 0.1-0.2 s of CPU (a new session loads botocore's models again), and every
`Infra.build` asks for a store. A client is thread-safe once made (a session is
not: each client is made from a session of its own, under a lock); it is not shared
across processes, so the process id is part of the configuration. The cache is keyed
by a digest of that configuration: it holds no credential in the clear.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, cast
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from vault.blobstore import (
    BlobInfo,
    BlobMissing,
    BlobStoreError,
    TmpFile,
    check_blob_id,
    new_blob_id,
)
from vault.errors import ConfigError, InvalidInput

if TYPE_CHECKING:
    from botocore.response import StreamingBody

__all__ = ["PART_SIZE", "S3BlobStore", "S3Location", "S3Reader", "S3Writer", "parse_storage_url"]

PART_SIZE = 8 * 1024 * 1024  # S3 wants parts of 5 MiB or more (the last may be smaller)
MIN_PART_SIZE = 5 * 1024 * 1024
FIRST_BYTES = 256 * 1024  # fetched on open: the header, and all of a small blob
_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]")
_ID_RE = re.compile(r"[0-9a-f]{32}")
_TMP_RE = re.compile(r"([0-9a-f]{32})\.([A-Za-z0-9._\-+/=]{1,512})")
_MISSING = {"404", "NoSuchKey", "NotFound"}
_ERRORS = (ClientError, BotoCoreError)
#: Environment variables botocore reads when it makes a client (credentials, endpoint,
#: region, profile, config files, CA bundle); HOME locates ~/.aws.
_CLIENT_ENV = ("AWS_", "BOTO_", "REQUESTS_CA_BUNDLE", "HOME")
_MAX_CLIENTS = 8  # configurations kept per process; the oldest goes first
_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str  # "" or "some/prefix/" (always ending with a slash)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def parse_storage_url(url: str) -> S3Location:
    """``s3://bucket[/prefix]`` → `S3Location`; anything else is a `ConfigError`."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(
            f"VAULT_STORAGE_URL must look like s3://bucket/prefix, not {url!r}.",
            code="bad_setting",
        )
    if not _BUCKET_RE.fullmatch(parts.netloc) or ".." in parts.netloc:
        raise ConfigError(
            f"VAULT_STORAGE_URL names an invalid bucket {parts.netloc!r} (3-63 lowercase "
            "letters, digits, dots and hyphens).",
            code="bad_setting",
        )
    prefix = parts.path.strip("/")
    if any(p in ("", ".", "..") for p in prefix.split("/")) and prefix:
        raise ConfigError(f"VAULT_STORAGE_URL has an invalid prefix {prefix!r}.",
                          code="bad_setting")
    return S3Location(parts.netloc, f"{prefix}/" if prefix else "")


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _failed(what: str, exc: Exception) -> BlobStoreError:
    return BlobStoreError(f"object store: {what} failed ({type(exc).__name__}: {_code(exc)})")


class S3Writer:
    """One blob on its way up; see the module notes and `S3BlobStore.new_writer`."""

    def __init__(self, store: S3BlobStore) -> None:
        self._store = store
        self._id = new_blob_id()
        self._key = store.key_of(self._id)
        self._buf = bytearray(store.part_size)
        self._fill = 0
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._closed = False
        self.blob_id: str | None = None
        self.size = 0

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        if self._closed:
            raise ValueError("blob writer is closed")
        view = memoryview(data).cast("B")
        n = len(view)
        while view:
            room = len(self._buf) - self._fill
            take = min(room, len(view))
            self._buf[self._fill : self._fill + take] = view[:take]
            self._fill += take
            view = view[take:]
            if self._fill == len(self._buf):
                self._upload_part()
        self.size += n
        return n

    def _upload_part(self) -> None:
        s3, bucket = self._store.client, self._store.location.bucket
        try:
            if self._upload_id is None:
                created = s3.create_multipart_upload(Bucket=bucket, Key=self._key)
                self._upload_id = created["UploadId"]
            number = len(self._parts) + 1
            done = s3.upload_part(Bucket=bucket, Key=self._key, UploadId=self._upload_id,
                                  PartNumber=number, Body=bytes(self._buf[: self._fill]))
        except _ERRORS as exc:
            raise _failed("uploading a part", exc) from None
        self._parts.append({"PartNumber": number, "ETag": done["ETag"]})
        self._fill = 0

    def commit(self) -> str:
        if self._closed:
            raise ValueError("blob writer is closed")
        s3, bucket = self._store.client, self._store.location.bucket
        try:
            if self._upload_id is None:
                s3.put_object(Bucket=bucket, Key=self._key, Body=bytes(self._buf[: self._fill]),
                              IfNoneMatch="*")
            else:
                if self._fill:
                    self._upload_part()
                s3.complete_multipart_upload(
                    Bucket=bucket, Key=self._key, UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._parts}, IfNoneMatch="*",
                )
        except BlobStoreError:
            self.abort()
            raise
        except _ERRORS as exc:
            self.abort()
            if _code(exc) == "PreconditionFailed":
                raise BlobStoreError(f"object store: {self._key} exists; blobs are "
                                     "written once") from None
            raise _failed("completing an upload", exc) from None
        self._closed = True
        self._buf = bytearray()
        self.blob_id = self._id
        return self._id

    def abort(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._buf = bytearray()
        if self._upload_id is not None:
            # Best effort: a failed abort leaves an unfinished upload that
            # `vault doctor` lists and `--repair` removes.
            with contextlib.suppress(Exception):
                self._store.client.abort_multipart_upload(
                    Bucket=self._store.location.bucket, Key=self._key,
                    UploadId=self._upload_id)


class S3Reader(io.RawIOBase):
    """A seekable, read-only view of one object through ranged GETs."""

    def __init__(self, store: S3BlobStore, key: str, size: int, etag: str,
                 first: bytes = b"", requests: int = 0) -> None:
        super().__init__()
        self._store = store
        self._key = key
        self._size = size
        self._etag = etag  # every later GET asks for this very object (If-Match)
        self._first = first  # the object's first bytes, fetched by `S3BlobStore.open`
        self._pos = 0
        self._body: StreamingBody | None = None
        self._body_pos = -1  # where the open streaming body stands
        self._last_end = -1  # where the previous exact-range read ended
        self.requests = requests  # GETs made (tests and benchmarks read it)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            pos = offset
        elif whence == os.SEEK_CUR:
            pos = self._pos + offset
        elif whence == os.SEEK_END:
            pos = self._size + offset
        else:
            raise ValueError(f"bad whence {whence}")
        if pos < 0:
            raise ValueError("negative seek position")
        self._pos = pos
        return pos

    def _get(self, first: int, last: int | None) -> StreamingBody:
        rng = f"bytes={first}-" if last is None else f"bytes={first}-{last}"
        self.requests += 1
        try:
            got = self._store.client.get_object(
                Bucket=self._store.location.bucket, Key=self._key, Range=rng,
                IfMatch=self._etag)
        except _ERRORS as exc:
            if _code(exc) in _MISSING:
                raise BlobMissing("The stored file is missing from the blob store.",
                                  blob_id=self._key.rsplit("/", 1)[-1]) from None
            raise _failed("reading", exc) from None
        return cast("StreamingBody", got["Body"])

    def _drop_body(self) -> None:
        if self._body is not None:
            with contextlib.suppress(Exception):
                self._body.close()
            self._body = None
            self._body_pos = -1

    def readinto(self, buffer: Any) -> int:
        if self.closed:
            raise ValueError("read from a closed blob")
        view = memoryview(buffer).cast("B")
        want = min(len(view), self._size - self._pos)
        if want <= 0:
            return 0
        if self._pos < len(self._first):  # header, last segment of a small blob, …
            n = min(want, len(self._first) - self._pos)
            view[:n] = self._first[self._pos : self._pos + n]
            self._pos += n
            self._last_end = self._pos
            return n
        if self._body is None or self._body_pos != self._pos:
            self._drop_body()
            if self._last_end == self._pos:  # a sequential reader: stream the rest
                self._body, self._body_pos = self._get(self._pos, None), self._pos
            else:  # a seek: exactly these bytes
                body = self._get(self._pos, self._pos + want - 1)
                try:
                    n = _read_fully(body, view[:want])
                finally:
                    body.close()
                self._pos += n
                self._last_end = self._pos
                return n
        try:
            n = _read_fully(self._body, view[:want])
        except _ERRORS as exc:
            self._drop_body()
            raise _failed("reading", exc) from None
        self._pos += n
        self._body_pos = self._pos
        self._last_end = self._pos
        return n

    def close(self) -> None:
        self._drop_body()
        super().close()


def _read_fully(body: StreamingBody, view: memoryview) -> int:
    total = 0
    while total < len(view):
        chunk = body.read(len(view) - total)
        if not chunk:
            break
        view[total : total + len(chunk)] = chunk
        total += len(chunk)
    if total < len(view):
        raise BlobStoreError("object store: the object ended early")
    return total


class S3BlobStore:
    """Blobs as objects under ``s3://bucket/prefix/blobs/``."""

    def __init__(self, location: S3Location, client: Any, part_size: int = PART_SIZE) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE}")
        self.location = location
        self.client = client
        self.part_size = part_size
        self._blobs = f"{location.prefix}blobs/"

    @classmethod
    def from_url(cls, url: str, **client_options: Any) -> S3BlobStore:
        """A store for ``s3://bucket/prefix``; the client reads the ``AWS_*`` variables
        and is shared by every store of this process with the same configuration."""
        return cls(parse_storage_url(url), shared_client(**client_options))

    def describe(self) -> str:
        return str(self.location)

    def key_of(self, blob_id: str) -> str:
        return self._blobs + check_blob_id(blob_id)

    def ensure_bucket(self) -> bool:
        """Create the bucket when it does not exist (`vault init`). True when created."""
        try:
            self.client.head_bucket(Bucket=self.location.bucket)
            return False
        except _ERRORS as exc:
            if _code(exc) not in _MISSING | {"NoSuchBucket"}:
                raise _failed(f"checking bucket {self.location.bucket}", exc) from None
        try:
            self.client.create_bucket(Bucket=self.location.bucket)
        except _ERRORS as exc:
            raise _failed(f"creating bucket {self.location.bucket}", exc) from None
        return True

    # --- the interface -----------------------------------------------------------

    @contextlib.contextmanager
    def new_writer(self) -> Iterator[S3Writer]:
        """``with store.new_writer() as w: w.write(...); blob_id = w.commit()``."""
        writer = S3Writer(self)
        try:
            yield writer
        finally:
            if writer.blob_id is None:
                writer.abort()

    def _head(self, blob_id: str) -> dict[str, Any] | None:
        try:
            return cast("dict[str, Any]", self.client.head_object(
                Bucket=self.location.bucket, Key=self.key_of(blob_id)))
        except _ERRORS as exc:
            if _code(exc) in _MISSING:
                return None
            raise _failed("looking up an object", exc) from None

    def open(self, blob_id: str) -> BinaryIO:
        """One GET of the first `FIRST_BYTES` tells the size and holds the header
        (and the whole of a small blob); later reads are ranged GETs."""
        key = self.key_of(blob_id)
        try:
            got = self.client.get_object(Bucket=self.location.bucket, Key=key,
                                         Range=f"bytes=0-{FIRST_BYTES - 1}")
        except _ERRORS as exc:
            if _code(exc) in _MISSING:
                raise BlobMissing("The stored file is missing from the blob store.",
                                  blob_id=blob_id) from None
            if _code(exc) != "InvalidRange":  # an empty object has no byte 0
                raise _failed("reading", exc) from None
            head = self._head(blob_id)
            if head is None:
                raise BlobMissing("The stored file is missing from the blob store.",
                                  blob_id=blob_id) from None
            return cast(BinaryIO, S3Reader(self, key, int(head["ContentLength"]),
                                           str(head["ETag"]), requests=2))
        body = got["Body"]
        try:
            first = body.read()
        except _ERRORS as exc:
            raise _failed("reading", exc) from None
        finally:
            body.close()
        content_range = str(got.get("ContentRange") or "")
        size = int(content_range.rsplit("/", 1)[1]) if "/" in content_range else len(first)
        return cast(BinaryIO, S3Reader(self, key, size, str(got["ETag"]), first, requests=1))

    def delete(self, blob_id: str) -> bool:
        if self._head(blob_id) is None:
            return False
        try:
            self.client.delete_object(Bucket=self.location.bucket, Key=self.key_of(blob_id))
        except _ERRORS as exc:
            raise _failed("deleting an object", exc) from None
        return True

    def exists(self, blob_id: str) -> bool:
        return self._head(blob_id) is not None

    def info(self, blob_id: str) -> BlobInfo:
        head = self._head(blob_id)
        if head is None:
            raise BlobMissing("The stored file is missing from the blob store.",
                              blob_id=blob_id)
        return BlobInfo(blob_id, int(head["ContentLength"]), head["LastModified"].timestamp())

    def iter_ids(self) -> Iterator[str]:
        """Every committed blob id (other keys under the prefix are ignored)."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.location.bucket, Prefix=self._blobs)
        try:
            for page in pages:
                for item in page.get("Contents", []):
                    name = item["Key"][len(self._blobs):]
                    if _ID_RE.fullmatch(name):
                        yield name
        except _ERRORS as exc:
            raise _failed("listing objects", exc) from None

    def list_tmp(self) -> list[TmpFile]:
        """Unfinished multipart uploads under the prefix (in progress or left by a crash)."""
        now = time.time()
        found = []
        pages = self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.location.bucket, Prefix=self._blobs)
        try:
            for page in pages:
                for up in page.get("Uploads", []):
                    name = up["Key"][len(self._blobs):]
                    tmp = f"{name}.{up['UploadId']}"
                    if _ID_RE.fullmatch(name) and _TMP_RE.fullmatch(tmp):
                        age = max(0.0, now - up["Initiated"].timestamp())
                        found.append(TmpFile(tmp, 0, age))
        except _ERRORS as exc:
            raise _failed("listing uploads", exc) from None
        return sorted(found, key=lambda t: t.name)

    def remove_tmp(self, name: str) -> bool:
        """Abort one unfinished upload by the name `list_tmp` gave."""
        match = _TMP_RE.fullmatch(name) if isinstance(name, str) else None
        if not match:
            raise InvalidInput("Malformed temporary file name.", code="bad_blob_id")
        where = {"Bucket": self.location.bucket, "Key": self.key_of(match[1]),
                 "UploadId": match[2]}
        try:
            # Some servers accept aborting an unknown upload: ask first.
            self.client.list_parts(**where, MaxParts=1)
            self.client.abort_multipart_upload(**where)
        except _ERRORS as exc:
            if _code(exc) in _MISSING | {"NoSuchUpload"}:
                return False
            raise _failed("aborting an upload", exc) from None
        return True


def _client_key(client_options: dict[str, Any]) -> str:
    """A digest of what a new client would be made of: this process, the variables
    botocore reads and the options (a digest: no credential kept or shown)."""
    digest = hashlib.sha256(str(os.getpid()).encode())
    for name in sorted(os.environ):
        if name.startswith(_CLIENT_ENV):
            digest.update(f"\0{name}\0{os.environ[name]}".encode())
    for name in sorted(client_options):
        digest.update(f"\1{name}\0{client_options[name]!r}".encode())
    return digest.hexdigest()


def shared_client(**client_options: Any) -> Any:
    """The process's S3 client for the current configuration, made on first use (see
    the module notes, "Clients")."""
    key = _client_key(client_options)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _new_client(client_options)
            if len(_clients) >= _MAX_CLIENTS:
                del _clients[next(iter(_clients))]
            _clients[key] = client
        return client


def _new_client(client_options: dict[str, Any]) -> Any:
    import boto3
    from botocore.config import Config

    # S3-compatible servers on their own host want path-style addressing
    # (no per-bucket DNS names); AWS itself works either way.
    custom = bool(os.environ.get("AWS_ENDPOINT_URL") or
                  os.environ.get("AWS_ENDPOINT_URL_S3") or
                  client_options.get("endpoint_url"))
    config = Config(
        s3={"addressing_style": "path" if custom else "auto"},
        retries={"max_attempts": 4, "mode": "standard"},
        max_pool_connections=32,
        connect_timeout=5,
        read_timeout=60,
    )
    region = (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
              or "us-east-1")
    # A session of its own: sessions are not thread-safe, the client it makes is.
    return boto3.session.Session().client("s3", region_name=region, config=config,
                                          **client_options)
