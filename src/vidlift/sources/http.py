"""HTTP(S) origins as sources: ranged GETs with an identity check on every answer
(sources layer).

:meth:`HttpSource.inspect` asks for the first byte (``Range: bytes=0-0``; a GET, not a
HEAD: signed URLs are often signed for GET only) and records the size and the identity:
the ``ETag`` (``etag:"..."``), else ``Last-Modified`` (``last-modified:...``), else only
the size (``size:<n>``). Every later answer is checked against them (and the strong ETag,
or the date, goes out as ``If-Range``): a source that changed raises
:class:`~vidlift.errors.SourceChanged`, never mixes two versions in one video.

An origin that ignores ``Range`` (200 instead of 206) is read as one sequential stream,
kept open from range to range and restarted from byte 0 when a range before its position
is asked for (it cannot start elsewhere); this is said once per source. Redirects are
followed (at most ``max_redirects``); the configured headers and cookies go only to the
manifest URL's host (or the listed ``hosts``). 404/410, 401/403 and other refusals raise
SourceError naming ``scheme://host/path``, never the query string (often a signature);
5xx and 429 raise :class:`~vidlift.errors.SourceUnavailable`, dropped connections and
timeouts the transport errors: the job loop retries them. Nothing here retries or sleeps.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable, Mapping
from urllib.parse import unquote

import aiohttp
from yarl import URL

from vidlift.client.transport import map_exception
from vidlift.config import READ_PIECE_BYTES, HttpSourceSettings
from vidlift.errors import (
    ConnectError,
    ConnectionDropped,
    RangeHeaderError,
    SourceChanged,
    SourceError,
    SourceUnavailable,
    VidliftError,
)
from vidlift.protocol.ranges import ByteRange, parse_content_range
from vidlift.sources.remote import RemoteReader

__all__ = ["HttpReader", "HttpSource", "public_url"]

log = logging.getLogger("vidlift.sources")

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_NOT_FOUND = frozenset({404, 410})
_REFUSED = frozenset({401, 403})
_RETRYABLE_4XX = frozenset({408, 425, 429})
_URL_QUERY = re.compile(r"(https?://[^\s?'\"]*)\?[^\s'\"]*")
Notice = Callable[[str], None]


def public_url(url: URL) -> str:
    """``scheme://host[:port]/path``: no user, password, query string or fragment."""
    return str(url.with_user(None).with_query(None).with_fragment(None))


def _identity_of(headers: Mapping[str, str], size: int) -> str:
    etag = headers.get("ETag")
    if etag:
        return f"etag:{etag.strip()}"
    modified = headers.get("Last-Modified")
    if modified:
        return f"last-modified:{modified.strip()}"
    return f"size:{size}"


class HttpSource:
    """A file behind an HTTP(S) URL, with the size and identity it had when inspected.

    The URL is kept private (it may hold a signature): ``name`` is what messages show.
    Build it with :meth:`inspect`; the aiohttp session is the process's shared one.
    """

    __slots__ = (
        "_identity",
        "_notice",
        "_ranges_ignored",
        "_session",
        "_settings",
        "_size",
        "_url",
        "name",
    )

    def __init__(
        self,
        url: str | URL,
        *,
        session: aiohttp.ClientSession,
        settings: HttpSourceSettings,
        size_bytes: int,
        identity: str,
        on_notice: Notice | None = None,
    ) -> None:
        self._url = URL(url)
        self.name = public_url(self._url)
        self._session = session
        self._settings = settings
        self._size = size_bytes
        self._identity = identity
        self._notice = on_notice
        self._ranges_ignored = False

    def __repr__(self) -> str:
        return f"HttpSource({self.name!r}, size_bytes={self._size}, identity={self._identity!r})"

    @classmethod
    async def inspect(
        cls,
        url: str | URL,
        *,
        session: aiohttp.ClientSession,
        settings: HttpSourceSettings,
        on_notice: Notice | None = None,
    ) -> HttpSource:
        """Ask the origin for the size and identity (one GET of byte 0).

        Raises SourceError (missing, refused, empty, size unknown), SourceUnavailable or
        a TransportError (worth retrying).
        """
        source = cls(
            url, session=session, settings=settings, size_bytes=0, identity="", on_notice=on_notice
        )
        size, identity, ranged = await source._probe()
        source._size, source._identity = size, identity
        if not ranged:
            source.note_ranges_ignored()
        return source

    @property
    def filename(self) -> str:
        """The URL path's last segment, decoded (the host when the path is empty)."""
        last = unquote(self._url.path.rsplit("/", 1)[-1])
        return last or (self._url.host or "video")

    @property
    def size_bytes(self) -> int:
        """The size when inspected."""
        return self._size

    @property
    def identity(self) -> str:
        """``etag:"..."``, ``last-modified:...`` or ``size:<n>``."""
        return self._identity

    @property
    def ranges_ignored(self) -> bool:
        """True once the origin answered a ranged GET with the whole file (200)."""
        return self._ranges_ignored

    async def check_unchanged(self) -> None:
        """Ask again; raise SourceChanged when the size or the identity differ."""
        size, identity, _ = await self._probe()
        self._compare(size, identity)

    def open(self, piece_bytes: int = READ_PIECE_BYTES, *, hash_md5: bool = True) -> HttpReader:
        """A reader of ranges (nothing is requested before the first range)."""
        return HttpReader(self, piece_bytes, hash_md5=hash_md5)

    # ----------------------------------------------------------------------- requests

    async def _probe(self) -> tuple[int, str, bool]:
        """(size, identity, ranges honoured) from a GET of byte 0."""
        response = await self.open_answer(ByteRange(0, 0), validate=False)
        try:
            if response.status != 200:
                await self._drain(response)  # one byte (or a short 416 body): keep-alive
            if response.status == 416:
                raise SourceError(self.name, "the file is empty (0 bytes): nothing to upload")
            if response.status == 206:
                _, total = self._content_range(response)
                return total, _identity_of(response.headers, total), True
            if response.content_length is None:
                raise SourceError(
                    self.name,
                    "the origin gives neither Range answers nor a Content-Length: "
                    "the size must be known before uploading",
                )
            if response.content_length == 0:
                raise SourceError(self.name, "the file is empty (0 bytes): nothing to upload")
            size = response.content_length
            return size, _identity_of(response.headers, size), False
        finally:
            response.release()

    async def _drain(self, response: aiohttp.ClientResponse) -> None:
        try:
            await response.content.read(64 * 1024)
        except Exception as exc:
            raise self.mapped(exc) from None

    async def open_answer(
        self, byte_range: ByteRange | None, *, validate: bool = True
    ) -> aiohttp.ClientResponse:
        """A GET of ``byte_range`` (None: the whole file), redirects followed: an answer
        that is 200 or 206 (or 416 without ``validate``) and, with ``validate``, of this
        very version. The caller releases it."""
        headers = {"Accept-Encoding": "identity"}
        if byte_range is not None:
            headers["Range"] = f"bytes={byte_range.start}-{byte_range.end}"
            if_range = self._if_range() if validate else None
            if if_range:
                headers["If-Range"] = if_range
        try:
            response = await self._follow(headers)
        except VidliftError:
            raise
        except Exception as exc:
            raise self.mapped(exc) from None
        try:
            self._refuse_status(response)
            if validate:
                self._validate(response, byte_range)
        except BaseException:
            response.release()
            raise
        return response

    async def _follow(self, headers: dict[str, str]) -> aiohttp.ClientResponse:
        url, hops = self._url, 0
        timeouts = self._settings.timeouts
        timeout = aiohttp.ClientTimeout(
            total=None, connect=timeouts.connect_s, sock_read=timeouts.read_s
        )
        while True:
            response = await self._session.get(
                url,
                headers=self._headers_for(url, headers),
                allow_redirects=False,
                timeout=timeout,
                auto_decompress=False,
            )
            location = response.headers.get("Location")
            if response.status not in _REDIRECTS or not location:
                return response
            response.release()
            hops += 1
            if hops > self._settings.max_redirects:
                raise SourceError(self.name, f"more than {self._settings.max_redirects} redirects")
            url = url.join(URL(location))
            if url.scheme not in ("http", "https"):
                raise SourceError(self.name, f"a redirect leads to a {url.scheme!r} URL")

    def _headers_for(self, url: URL, base: dict[str, str]) -> dict[str, str]:
        """``base`` plus the configured headers and cookies when ``url``'s host may get them."""
        settings = self._settings
        allowed = settings.hosts or (self._url.host or "",)
        if (url.host or "").lower() not in allowed:
            return base
        headers = {**settings.headers, **base}
        if settings.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in settings.cookies.items())
        return headers

    def _refuse_status(self, response: aiohttp.ClientResponse) -> None:
        status = response.status
        if status in (200, 206, 416):
            return
        if status in _NOT_FOUND:
            raise SourceError(self.name, f"not found on the origin (HTTP {status})")
        if status in _REFUSED:
            raise SourceError(
                self.name,
                f"the origin refuses access (HTTP {status}): check the headers and cookies "
                "in [sources.http], or whether a signed URL expired",
            )
        if status >= 500 or status in _RETRYABLE_4XX:
            raise SourceUnavailable(self.name, status, _retry_after_s(response.headers))
        if status in _REDIRECTS:
            raise SourceError(self.name, f"HTTP {status} redirect without a Location")
        raise SourceError(self.name, f"the origin answered HTTP {status} {response.reason}")

    def _validate(self, response: aiohttp.ClientResponse, byte_range: ByteRange | None) -> None:
        """Raise SourceChanged when the answer is not of the inspected version."""
        if response.status == 416:
            self._changed("it is shorter now (the origin refuses the range: HTTP 416)")
        if response.status == 206:
            got, total = self._content_range(response)
            if byte_range is not None and got != byte_range:
                raise SourceError(self.name, f"asked for bytes {byte_range}, got {got}")
        else:
            total = response.content_length if response.content_length is not None else self._size
        self._compare(total, _identity_of(response.headers, total), partial=True)

    def _compare(self, size: int, identity: str, *, partial: bool = False) -> None:
        if size != self._size:
            self._changed(f"its size is {size} bytes, not {self._size}")
        if identity == self._identity or (partial and identity.startswith("size:")):
            return  # an answer without validators says nothing against the identity
        self._changed(f"its identity is {identity!r}, not {self._identity!r}")

    def _changed(self, what: str) -> None:
        raise SourceChanged(
            self.name,
            f"the source changed since it was first read ({what}): "
            "restore it, or give the new version its own row (a new `id`) in the manifest",
        )

    def _content_range(self, response: aiohttp.ClientResponse) -> tuple[ByteRange, int]:
        value = response.headers.get("Content-Range", "")
        try:
            return parse_content_range(value)
        except RangeHeaderError:
            raise SourceError(
                self.name, f"the origin's Content-Range is unusable: {value[:80]!r}"
            ) from None

    def _if_range(self) -> str | None:
        kind, _, value = self._identity.partition(":")
        if kind == "etag" and not value.startswith("W/"):
            return value  # If-Range needs a strong validator (RFC 9110, 13.1.5)
        return value if kind == "last-modified" else None

    def mapped(self, exc: Exception) -> VidliftError:
        mapped = map_exception(exc)
        if mapped is None:
            raise exc
        detail = _URL_QUERY.sub(r"\1", str(mapped).replace(str(self._url), self.name))
        if isinstance(mapped, ConnectError):  # the origin's, not the platform's
            return SourceUnavailable(self.name, None, reason=detail)
        return type(mapped)(f"{self.name}: {detail}")

    def note_ranges_ignored(self) -> None:
        if self._ranges_ignored:
            return
        self._ranges_ignored = True
        message = (
            f"{self.name}: the origin ignores Range requests (it sends the whole file): "
            "reading it as one stream; a retry reads again from its first byte"
        )
        if self._notice is not None:
            self._notice(message)
        else:
            log.warning(message)


def _retry_after_s(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None


class _Body:
    """An answer's body being read, and the rest of a chunk cut at a piece's end."""

    __slots__ = ("response", "spare")

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.spare = b""


class HttpReader(RemoteReader):
    """Ranges of an :class:`HttpSource`: one ranged GET per range, or one sequential
    stream when the origin ignores ``Range``. Reads one range at a time."""

    def __init__(self, source: HttpSource, piece_bytes: int, *, hash_md5: bool) -> None:
        super().__init__(source, piece_bytes, hash_md5=hash_md5)
        self.source = source
        self._stream: _Body | None = None  # a whole-file answer
        self._stream_at = 0  # the stream's next byte
        self._stream_turn = asyncio.Lock()  # not anyio's: released where a part ends

    async def aclose(self) -> None:
        """Close the sequential stream, if one is open."""
        if self._stream is not None:
            self._stream.response.close()
            self._stream = None

    async def _fetch(self, byte_range: ByteRange) -> AsyncIterator[bytes]:
        response: aiohttp.ClientResponse | None = None
        if not self.source.ranges_ignored:
            response = await self.source.open_answer(byte_range)
            if response.status == 206:
                try:
                    body = _Body(response)  # its own: ranges may be read side by side
                    async for piece in self._pieces(body, byte_range.start, byte_range.end):
                        yield piece
                finally:
                    response.release()
                return
            self.source.note_ranges_ignored()  # a 200: the whole file, as a stream
        # One stream, one range at a time: parts in flight take their turns (each reading
        # from where the stream is, or from byte 0 again when it is past their start).
        async with self._stream_turn:
            if response is not None:
                if self._stream is None:
                    self._stream, self._stream_at = _Body(response), 0
                else:
                    response.close()  # another range's stream is already open
            async for piece in self._from_stream(byte_range):
                yield piece

    async def _pieces(self, body: _Body, position: int, end: int) -> AsyncIterator[bytes]:
        """Read ``position``..``end`` (inclusive) from the answer's body: the chunks the
        connection delivered, as they are (never joined: a copy per byte costs CPU), hashed
        ``piece_bytes`` at a time. A chunk that runs past a piece (or past ``end``, on a
        stream) is cut there, its rest kept for the next piece or range."""
        while position <= end:
            chunks: list[bytes] = []
            got, wanted = 0, min(self._piece_bytes, end + 1 - position)
            while got < wanted:
                chunk = await self._chunk(body, wanted - got)
                chunks.append(chunk)
                got += len(chunk)
            await self._account_all(position, chunks)
            position += got
            for chunk in chunks:
                yield chunk

    async def _chunk(self, body: _Body, limit: int) -> bytes:
        """The next chunk of the body, at most ``limit`` bytes."""
        chunk, body.spare = body.spare, b""
        content = body.response.content
        if not chunk:
            try:
                # readchunk() hands over one buffered chunk as it is; readany() joins
                # every buffered chunk into a new bytes (a copy of each byte).
                chunk, boundary = await content.readchunk()
                while not chunk and boundary:  # the end of an HTTP chunk: read on
                    chunk, boundary = await content.readchunk()
            except VidliftError:
                raise
            except Exception as exc:
                raise self.source.mapped(exc) from None
            if not chunk:
                raise ConnectionDropped(f"{self.source.name}: the answer ended early")
        if len(chunk) > limit:
            chunk, body.spare = chunk[:limit], chunk[limit:]
        return chunk

    async def _from_stream(self, byte_range: ByteRange) -> AsyncIterator[bytes]:
        """The range from the sequential stream (reopened from byte 0 when it is past
        the range's start: an origin that ignores Range cannot start elsewhere)."""
        if self._stream is None or self._stream_at > byte_range.start:
            await self.aclose()
            self._stream, self._stream_at = _Body(await self.source.open_answer(None)), 0
        stream = self._stream
        try:
            while self._stream_at < byte_range.start:  # skip (and hash) up to the range
                end = min(byte_range.start, self._stream_at + self._piece_bytes) - 1
                async for _ in self._pieces(stream, self._stream_at, end):
                    pass
                self._stream_at = end + 1
            async for piece in self._pieces(stream, byte_range.start, byte_range.end):
                self._stream_at += len(piece)
                yield piece
        except BaseException:
            await self.aclose()  # a broken or abandoned stream is never read again
            raise
