"""The signed JW Platform v1 API client (client layer).

videos/create, videos/update, videos/show and videos/list over the shared transport.
The clock and the nonce source are injectable so that tests can repeat a request.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from typing import Protocol
from urllib.parse import urlencode

from vidlift.client.transport import HttpRequest, HttpResponse, Transport
from vidlift.config import DEFAULT_API_FORMAT, Credentials, Timeouts
from vidlift.errors import AnswerParseError, ApiError, ConfigError, RateLimited
from vidlift.protocol.answers import (
    api_error_from,
    parse_create_answer,
    parse_fetch_create_answer,
    parse_rate_limit,
    parse_s3_create_answer,
    parse_video_info,
    parse_video_list,
)
from vidlift.protocol.documents import Document, decode_document
from vidlift.protocol.metadata import VideoMetadata
from vidlift.protocol.models import CreateAnswer, RateLimit, S3CreateAnswer, VideoInfo, VideoList
from vidlift.protocol.signing import ParamValue, signed_params

__all__ = ["ApiClient", "CallPacer", "NonceSequence"]

API_KIT = "vidlift-0.1"
_API_TIMEOUT_S = Timeouts().api_s
# Calls that exist whatever the videos: a 404 on them is the wrong API, not a video gone.
_ENDPOINT_CALLS = frozenset({"videos/create", "videos/list"})


class CallPacer(Protocol):
    """Told about every API answer's quota; may hold calls back (see jobs.pacing)."""

    async def wait_turn(self) -> None:
        """Return when a call may go out."""
        ...

    def observe(self, rate_limit: RateLimit | None) -> None:
        """An answer's rate_limit block."""
        ...

    def rate_limited(self, reset_at: float | None) -> None:
        """A 429 answer."""
        ...

    def call_ended(self) -> None:
        """The call :meth:`wait_turn` let out ended, answered or not."""
        ...


_NONCE_SPACE = 1_000_000_000  # api_nonce is 9 digits


class NonceSequence:
    """Nonces for one client: consecutive values from a random start, modulo 10**9.

    Random nonces collide by the birthday rule: a server that remembers the nonces of a
    long batch sees one again every few thousand calls. Consecutive ones never repeat
    within a client (10**9 calls), and two clients collide only if their runs of values
    overlap. A collision that still happens is retried (:class:`vidlift.errors.NonceReused`).
    """

    def __init__(self, start: int | None = None) -> None:
        self._next = secrets.randbelow(_NONCE_SPACE) if start is None else start % _NONCE_SPACE

    def __call__(self) -> int:
        nonce = self._next
        self._next = (nonce + 1) % _NONCE_SPACE
        return nonce


class ApiClient:
    """Signed calls to ``{endpoint}/v1/...``. Answers are always requested as JSON or XML."""

    def __init__(
        self,
        transport: Transport,
        *,
        endpoint: str,
        credentials: Credentials,
        api_format: str = DEFAULT_API_FORMAT,
        timeout_s: float = _API_TIMEOUT_S,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], int] | None = None,
        pacer: CallPacer | None = None,
    ) -> None:
        self._transport = transport
        self._endpoint = endpoint.rstrip("/")
        self._credentials = credentials
        self._api_format = api_format
        self._timeout_s = timeout_s
        self._clock = clock
        self._nonce = nonce or NonceSequence()
        self._pacer = pacer
        self.last_rate_limit: RateLimit | None = None

    def __repr__(self) -> str:
        return f"ApiClient(endpoint={self._endpoint!r}, api_key={self._credentials.api_key!r})"

    async def call(
        self, route: str, params: Mapping[str, ParamValue], *, post: bool = False
    ) -> Document:
        """Sign and send ``/v1/{route}``; return the decoded answer.

        Raises ApiError (and its AuthError / RateLimited) for error answers, AnswerParseError
        for unreadable ones, TransportError when no answer came.
        """
        if self._pacer is None:
            return await self._send(route, params, post=post)
        await self._pacer.wait_turn()
        try:
            return await self._send(route, params, post=post)
        except RateLimited as exc:
            self._pacer.rate_limited(exc.reset_at)
            raise
        finally:
            self._pacer.call_ended()

    async def _send(self, route: str, params: Mapping[str, ParamValue], *, post: bool) -> Document:
        signed = signed_params(
            params,
            api_key=self._credentials.api_key,
            api_secret=self._credentials.api_secret,
            nonce=self._nonce(),
            timestamp=int(self._clock()),
            api_format=self._api_format,
            api_kit=API_KIT,
        )
        form = {k: v if isinstance(v, str) else str(v) for k, v in signed.items()}
        url = f"{self._endpoint}/v1/{route}"
        if post:
            request = HttpRequest("POST", url, form=form)
        else:
            request = HttpRequest("GET", f"{url}?{urlencode(form)}")
        response = await self._transport.send(request, timeout_s=self._timeout_s)
        if response.status == 404 and route in _ENDPOINT_CALLS:
            raise ConfigError(
                f"{route}: {self._endpoint} answered 404 (no such API call): check --endpoint, "
                "the API's base URL without /v1 (JW Platform: https://api.jwplatform.com)"
            )
        block: RateLimit | None = None
        try:
            doc = self._document(route, response)
            block = parse_rate_limit(doc)
            self.last_rate_limit = block or self.last_rate_limit
            if response.status >= 400 or doc.get("status") == "error":
                raise api_error_from(doc, http_status=response.status, call=route)
            return doc
        finally:
            if self._pacer is not None:
                self._pacer.observe(block)

    def _document(self, route: str, response: HttpResponse) -> Document:
        try:
            return decode_document(response.body, content_type=response.headers.get("content-type"))
        except AnswerParseError as exc:
            if response.status >= 400:
                # A 429 is a rate limit whatever its body (a proxy's HTML page, a cut one).
                error = RateLimited if response.status == 429 else ApiError
                raise error(
                    http_status=response.status, code="HttpError", message=str(exc), call=route
                ) from None
            raise AnswerParseError(f"{route}: {exc}") from None

    async def create_video(self, metadata: VideoMetadata) -> CreateAnswer:
        """videos/create with a resumable upload: the video key, link block and session id."""
        params: dict[str, ParamValue] = {**metadata.to_params(), "upload_method": "multipart"}
        return parse_create_answer(await self.call("videos/create", params, post=True))

    async def update_video(self, video_key: str) -> CreateAnswer:
        """videos/update: a new upload session to replace the file of ``video_key``."""
        params: dict[str, ParamValue] = {"video_key": video_key, "upload_method": "multipart"}
        doc = await self.call("videos/update", params, post=True)
        return parse_create_answer(doc, call="videos/update")

    async def create_video_s3(self, metadata: VideoMetadata) -> S3CreateAnswer:
        """videos/create with ``upload_method=s3``: the video key and one signed PUT link
        for the whole file (the seed's recommended path; not resumable)."""
        params: dict[str, ParamValue] = {**metadata.to_params(), "upload_method": "s3"}
        return parse_s3_create_answer(await self.call("videos/create", params, post=True))

    async def update_video_s3(self, video_key: str) -> S3CreateAnswer:
        """videos/update with ``upload_method=s3``: a new PUT link for ``video_key``."""
        params: dict[str, ParamValue] = {"video_key": video_key, "upload_method": "s3"}
        doc = await self.call("videos/update", params, post=True)
        return parse_s3_create_answer(doc, call="videos/update")

    async def create_video_fetch(self, metadata: VideoMetadata, download_url: str) -> str:
        """videos/create with ``download_url``: the platform fetches the file itself. The
        new video's key. The URL (often signed) goes in the POST body, never in a message."""
        params: dict[str, ParamValue] = {**metadata.to_params(), "download_url": download_url}
        doc = await self.call("videos/create", params, post=True)
        return parse_fetch_create_answer(doc).video_key

    async def update_video_metadata(self, video_key: str, metadata: VideoMetadata) -> None:
        """videos/update with new metadata (title, description, tags, date, link, custom)."""
        params: dict[str, ParamValue] = {"video_key": video_key, **metadata.to_params()}
        await self.call("videos/update", params, post=True)

    async def show_video(self, video_key: str) -> VideoInfo:
        """videos/show: status, size and md5 of one video."""
        return parse_video_info(await self.call("videos/show", {"video_key": video_key}))

    async def list_videos(
        self,
        *,
        search: Mapping[str, str] | None = None,
        result_limit: int = 50,
        result_offset: int = 0,
    ) -> VideoList:
        """videos/list; ``search`` maps e.g. ``custom.legacy_id`` to a value."""
        params: dict[str, ParamValue] = {
            "result_limit": str(result_limit),
            "result_offset": str(result_offset),
        }
        for field, value in (search or {}).items():
            params[f"search:{field}"] = value
        return parse_video_list(await self.call("videos/list", params))
