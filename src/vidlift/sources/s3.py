"""S3 objects as sources: ``s3://bucket/key`` read with ranged GetObject (sources layer).

Needs the extra ``vidlift[s3]`` (aiobotocore). Who we are comes from the standard AWS
credential chain (``AWS_*`` variables, ``~/.aws``, instance and container roles);
``S3SourceSettings.endpoint_url`` points at an S3-compatible store. The identity is the
object's ETag: every GetObject carries ``IfMatch`` and its answer's ETag and size are
compared, so an object replaced mid-migration raises
:class:`~vidlift.errors.SourceChanged`. botocore's own retries are off
(``total_max_attempts = 1``): the job loop is the one place that retries.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import unquote, urlsplit

from vidlift.client.transport import map_exception
from vidlift.config import READ_PIECE_BYTES, S3SourceSettings
from vidlift.errors import (
    ConfigError,
    ConnectError,
    ConnectionDropped,
    RequestTimeout,
    SourceChanged,
    SourceError,
    SourceUnavailable,
    TransportError,
    VidliftError,
)
from vidlift.protocol.ranges import ByteRange, parse_content_range
from vidlift.sources.remote import RemoteReader, read_exactly

__all__ = ["S3Reader", "S3Source", "create_s3_client", "parse_s3_url"]

_NOT_FOUND = frozenset({"404", "NoSuchKey", "NoSuchBucket", "NotFound"})
_REFUSED = frozenset({"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"})
_CHANGED = frozenset({"412", "PreconditionFailed", "InvalidRange", "416"})
_RETRYABLE = frozenset({"SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable"})


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> (bucket, key). Raises ValueError with a user-facing reason."""
    parts = urlsplit(url)
    key = unquote(parts.path.lstrip("/"))
    if parts.scheme != "s3" or not parts.netloc or not key or key.endswith("/"):
        raise ValueError(f"not an S3 object URL {url[:200]!r}: write s3://bucket/key")
    if parts.query or parts.fragment:
        raise ValueError("an s3:// URL takes no query string or fragment")
    return parts.netloc, key


async def create_s3_client(settings: S3SourceSettings) -> Any:
    """An S3 client (an async context manager to enter once per process).

    Raises ConfigError when aiobotocore is not installed.
    """
    try:
        from aiobotocore.config import AioConfig
        from aiobotocore.session import get_session
    except ImportError:
        raise ConfigError("s3:// sources need aiobotocore: pip install 'vidlift[s3]'") from None
    config = AioConfig(
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=settings.timeouts.connect_s,
        read_timeout=settings.timeouts.read_s,
    )
    return get_session().create_client(
        "s3", endpoint_url=settings.endpoint_url, region_name=settings.region, config=config
    )


class S3Source:
    """One S3 object, with the size and ETag it had when inspected."""

    __slots__ = ("_client", "_etag", "_size", "bucket", "key", "name")

    def __init__(self, bucket: str, key: str, *, client: Any, size_bytes: int, etag: str) -> None:
        self.bucket = bucket
        self.key = key
        self.name = f"s3://{bucket}/{key}"
        self._client = client
        self._size = size_bytes
        self._etag = etag

    def __repr__(self) -> str:
        return f"S3Source({self.name!r}, size_bytes={self._size}, identity={self.identity!r})"

    @classmethod
    async def inspect(cls, url: str, *, client: Any) -> S3Source:
        """HeadObject: the size and ETag. Raises SourceError, or a TransportError."""
        try:
            bucket, key = parse_s3_url(url)
        except ValueError as exc:
            raise SourceError(url.split("?", 1)[0], str(exc)) from None
        source = cls(bucket, key, client=client, size_bytes=0, etag="")
        source._size, source._etag = await source._head()
        if source._size == 0:
            raise SourceError(source.name, "the object is empty (0 bytes): nothing to upload")
        return source

    @property
    def filename(self) -> str:
        """The key's last segment."""
        return self.key.rsplit("/", 1)[-1]

    @property
    def size_bytes(self) -> int:
        """The size when inspected."""
        return self._size

    @property
    def identity(self) -> str:
        """``etag:"..."``."""
        return f"etag:{self._etag}"

    async def check_unchanged(self) -> None:
        """HeadObject again; SourceChanged when the size or ETag differ."""
        size, etag = await self._head()
        self.compare(size, etag)

    def open(self, piece_bytes: int = READ_PIECE_BYTES, *, hash_md5: bool = True) -> S3Reader:
        """A reader of ranges (nothing is requested before the first range)."""
        return S3Reader(self, piece_bytes, hash_md5=hash_md5)

    async def _head(self) -> tuple[int, str]:
        try:
            answer = await self._client.head_object(Bucket=self.bucket, Key=self.key)
        except Exception as exc:
            raise self.mapped(exc) from None
        return int(answer["ContentLength"]), str(answer.get("ETag", ""))

    async def get(self, byte_range: ByteRange) -> Any:
        """GetObject of ``byte_range`` if the ETag is still ours; checks the answer."""
        try:
            answer = await self._client.get_object(
                Bucket=self.bucket,
                Key=self.key,
                Range=f"bytes={byte_range.start}-{byte_range.end}",
                IfMatch=self._etag,
            )
        except Exception as exc:
            raise self.mapped(exc) from None
        got, total = parse_content_range(str(answer.get("ContentRange", "")))
        try:
            self.compare(total, str(answer.get("ETag", self._etag)))
            if got != byte_range:
                raise SourceError(self.name, f"asked for bytes {byte_range}, got {got}")
        except VidliftError:
            answer["Body"].close()
            raise
        return answer

    def compare(self, size: int, etag: str) -> None:
        """Raise SourceChanged unless ``size`` and ``etag`` are the inspected ones."""
        if (size, etag) != (self._size, self._etag):
            raise SourceChanged(
                self.name,
                f"the object changed since it was first read (size {self._size} -> {size}, "
                f"ETag {self._etag} -> {etag}): restore it, or give the new version its "
                "own row (a new `id`) in the manifest",
            )

    def mapped(self, exc: BaseException) -> VidliftError:
        """vidlift's error for a botocore/aiohttp exception (a bug is re-raised)."""
        if isinstance(exc, VidliftError):
            return exc
        response = getattr(exc, "response", None)
        if isinstance(response, dict):
            return self._client_error(response)
        return _mapped_below_http(exc, self.name)

    def _client_error(self, response: dict[str, Any]) -> VidliftError:
        code = str(response.get("Error", {}).get("Code", ""))
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in _NOT_FOUND:
            return SourceError(self.name, f"no such object or bucket ({code})")
        if code in _REFUSED:
            return SourceError(
                self.name,
                f"access refused ({code}): check the AWS credentials (AWS_PROFILE, "
                "AWS_ACCESS_KEY_ID, ...) and the bucket's policy",
            )
        if code in _CHANGED:
            return SourceChanged(self.name, f"the object changed since it was first read ({code})")
        if code in _RETRYABLE or (isinstance(status, int) and status >= 500):
            return SourceUnavailable(self.name, status if isinstance(status, int) else None)
        return SourceError(self.name, f"S3 refused the request ({code or status})")


def _mapped_below_http(exc: BaseException, name: str) -> VidliftError:
    from botocore import exceptions as boto

    table: tuple[tuple[type[BaseException], type[VidliftError]], ...] = (
        (boto.NoCredentialsError, ConfigError),
        (boto.PartialCredentialsError, ConfigError),
        (boto.EndpointConnectionError, SourceUnavailable),
        (boto.ConnectTimeoutError, SourceUnavailable),
        (boto.ReadTimeoutError, RequestTimeout),
        (boto.ResponseStreamingError, ConnectionDropped),
        (boto.IncompleteReadError, ConnectionDropped),
        (boto.BotoCoreError, TransportError),
    )
    for kind, target in table:
        if isinstance(exc, kind):
            if target is ConfigError:
                return ConfigError(
                    f"{name}: no AWS credentials found: set AWS_ACCESS_KEY_ID and "
                    "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run on a host with a role"
                )
            if target is SourceUnavailable:  # the store's, not the platform's
                return SourceUnavailable(name, None, reason=_no_connection(exc))
            return target(f"{name}: {type(exc).__name__}")
    mapped = map_exception(exc)
    if mapped is None:
        raise exc
    if isinstance(mapped, ConnectError):
        return SourceUnavailable(name, None, reason=f"{mapped} (the S3 store)")
    return type(mapped)(f"{name}: {type(exc).__name__}")


def _no_connection(exc: BaseException) -> str:
    """What botocore says of a store it could not reach: its endpoint (host and path,
    never a query) and what to check."""
    kwargs = getattr(exc, "kwargs", None) or {}
    endpoint = str(kwargs.get("endpoint_url") or "").split("?", 1)[0]
    if not endpoint:
        return f"cannot connect to the S3 store ({type(exc).__name__})"
    return f"cannot connect to the S3 store at {endpoint}: check --s3-endpoint-url and the network"


class S3Reader(RemoteReader):
    """Ranges of an :class:`S3Source`, one GetObject each."""

    def __init__(self, source: S3Source, piece_bytes: int, *, hash_md5: bool) -> None:
        super().__init__(source, piece_bytes, hash_md5=hash_md5)
        self.source = source

    async def _fetch(self, byte_range: ByteRange) -> AsyncIterator[bytes]:
        answer = await self.source.get(byte_range)
        body = answer["Body"]
        try:
            position = byte_range.start
            while position <= byte_range.end:
                size = min(self._piece_bytes, byte_range.end + 1 - position)
                try:
                    piece = await read_exactly(body.read, size, self.source.name)
                except Exception as exc:
                    raise self.source.mapped(exc) from None
                await self._account(position, piece)
                position += size
                yield piece
        finally:
            body.close()
