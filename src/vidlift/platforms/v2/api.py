"""The v2 Management API calls vidlift makes, over the shared transport (platforms layer).

Bearer authentication: the API secret for ``/v2/sites/{site}/...``, an upload's token
for ``/v2/uploads/{id}/...``. Each call raises the first failure as a
:mod:`vidlift.errors` class and never retries or sleeps. No token appears in a message,
a repr or a log line: URLs of API calls carry ids only.

The platform allows 60 calls a minute per token and says what is left in every answer's
headers (``JW-Request-Limit``, ``JW-Request-Remaining``; the emulator adds
``X-RateLimit-*`` with the reset time). Calls with the API secret wait for their turn at
the pacer (:class:`~vidlift.client.api.CallPacer`, :mod:`vidlift.jobs.pacing`) and tell
it each answer's quota and each 429; an upload token's few calls (parts list, complete)
have a budget of their own and go unpaced.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlencode

from pydantic import BaseModel

from vidlift.client.api import CallPacer
from vidlift.client.transport import HttpRequest, HttpResponse, Transport
from vidlift.config import DEFAULT_CHUNK_SIZE_BYTES, DEFAULT_V2_ENDPOINT, Limits, MiB, Timeouts
from vidlift.errors import (
    AnswerParseError,
    ApiError,
    AuthError,
    ConfigError,
    RateLimited,
    UploadGone,
    VideoMissing,
)
from vidlift.platforms.v2.models import (
    CreateAnswer,
    ErrorAnswer,
    MediaAnswer,
    MediaList,
    PartsPage,
    ThumbnailAnswer,
    parse_answer,
)
from vidlift.protocol.models import RateLimit

__all__ = ["DEFAULT_ENDPOINT", "V2Api", "V2Settings", "rate_limit_from"]

DEFAULT_ENDPOINT = DEFAULT_V2_ENDPOINT  # written once, in vidlift.config
_Model = TypeVar("_Model", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class V2Settings:
    """Where and how vidlift talks to the v2 API. The secret never shows in a repr.

    ``part_floor_bytes`` is the ``chunk_size`` setting: parts are at least this large
    (and at least 5 MiB). ``parts_in_flight`` parts of one file go up at once, fewer when
    ``bytes_in_flight`` would be exceeded. ``page_length`` parts per listing call.
    ``verify_md5=False`` hashes nothing while sending (each part's ETag is then trusted;
    on resume, a part listed with an ETag but not acked is still hashed and compared).
    ``library`` tags every media created, so that a lost journal is rebuilt by listing.
    """

    site_id: str
    api_secret: str = field(repr=False)
    endpoint: str = DEFAULT_ENDPOINT
    part_floor_bytes: int = DEFAULT_CHUNK_SIZE_BYTES
    parts_in_flight: int = Limits().parts_in_flight
    bytes_in_flight: int = 256 * MiB
    page_length: int = 1000
    api_timeout_s: float = Timeouts().api_s
    zero_copy: bool = True
    verify_md5: bool = True
    library: str | None = None  # the library's tag (custom_params.vidlift_library)

    def __post_init__(self) -> None:
        if not self.site_id:
            raise ConfigError("the v2 API needs a site id: set --site-id or VIDLIFT_SITE_ID")
        if not self.api_secret:
            raise ConfigError("the v2 API needs the API secret: set VIDLIFT_API_SECRET")
        if not self.endpoint.startswith(("http://", "https://")):
            raise ConfigError(f"endpoint must be an http(s) URL, not {self.endpoint!r}")
        if self.parts_in_flight < 1 or self.bytes_in_flight < 1:
            raise ConfigError("parts_in_flight and bytes_in_flight must be at least 1")
        if not 1 <= self.page_length <= 1000:
            raise ConfigError("page_length must be in 1..1000")


class V2Api:
    """One method per v2 call vidlift needs."""

    def __init__(
        self, transport: Transport, settings: V2Settings, pacer: CallPacer | None = None
    ) -> None:
        self._transport = transport
        self._settings = settings
        self._base = settings.endpoint.rstrip("/")
        self._pacer = pacer  # the API secret's quota (see the module doc)

    def _site_path(self, tail: str) -> str:
        return f"/v2/sites/{self._settings.site_id}/{tail}"

    def _media_path(self, media_id: str = "") -> str:
        tail = f"{media_id}/" if media_id else ""
        return f"/v2/sites/{self._settings.site_id}/media/{tail}"

    async def _call(
        self,
        method: str,
        path: str,
        *,
        call: str,
        token: str | None = None,
        body: Mapping[str, Any] | None = None,
        query: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        headers = {"Authorization": f"Bearer {token or self._settings.api_secret}"}
        data: bytes | None = None
        if body is not None:
            data = json.dumps(body, separators=(",", ":")).encode("utf-8")
            headers["Content-Type"] = "application/json"
        url = self._base + path + (f"?{urlencode(query)}" if query else "")
        request = HttpRequest(method, url, headers, body=data)
        pacer = self._pacer if token is None else None
        if pacer is None:
            return await self._send(request, call=call, on_upload=token is not None)
        await pacer.wait_turn()
        try:
            response = await self._send(request, call=call, on_upload=False, pacer=pacer)
        except RateLimited as exc:
            pacer.rate_limited(exc.reset_at)
            raise
        finally:
            pacer.call_ended()
        return response

    async def _send(
        self, request: HttpRequest, *, call: str, on_upload: bool, pacer: CallPacer | None = None
    ) -> HttpResponse:
        response = await self._transport.send(request, timeout_s=self._settings.api_timeout_s)
        if pacer is not None:
            pacer.observe(rate_limit_from(response.headers))
        if response.status == 404 and call in _SITE_CALLS:
            raise _unknown_site(response, call=call, site_id=self._settings.site_id)
        if not 200 <= response.status < 300:
            raise _failure(response, call=call, on_upload=on_upload)
        return response

    async def _json(self, model: type[_Model], method: str, path: str, **kwargs: Any) -> _Model:
        response = await self._call(method, path, **kwargs)
        return parse_answer(model, response.body, call=kwargs["call"])

    async def create(
        self, method: str, metadata: Mapping[str, Any], *, download_url: str | None = None
    ) -> CreateAnswer:
        """``POST /v2/sites/{site}/media/``: a new media and its upload (``fetch``: the
        platform downloads ``download_url`` itself; the URL never shows in a message)."""
        upload: dict[str, str] = {"method": method}
        if download_url is not None:
            upload["download_url"] = download_url
        body = {"upload": upload, "metadata": dict(metadata)}
        return await self._json(
            CreateAnswer, "POST", self._media_path(), call="media create", body=body
        )

    async def create_thumbnail(self, media_id: str, image_url: str) -> ThumbnailAnswer:
        """``POST /v2/sites/{site}/thumbnails/``: a static thumbnail the platform fetches
        from ``image_url`` for ``media_id``."""
        body = {
            "relationships": {"media": [{"id": media_id}]},
            "upload": {
                "source_type": "custom_upload",
                "method": "fetch",
                "thumbnail_type": "static",
                "download_url": image_url,
            },
        }
        return await self._json(
            ThumbnailAnswer,
            "POST",
            self._site_path("thumbnails/"),
            call="thumbnail create",
            body=body,
        )

    async def thumbnail(self, thumbnail_id: str) -> ThumbnailAnswer:
        """``GET .../thumbnails/{id}/``."""
        path = self._site_path(f"thumbnails/{thumbnail_id}/")
        return await self._json(ThumbnailAnswer, "GET", path, call="thumbnail show")

    async def make_poster(self, thumbnail_id: str) -> None:
        """``PATCH .../thumbnails/{id}/``: the thumbnail becomes its media's poster."""
        body = {"relationships": {"media": [{"is_poster": True}]}}
        path = self._site_path(f"thumbnails/{thumbnail_id}/")
        await self._json(ThumbnailAnswer, "PATCH", path, call="thumbnail update", body=body)

    async def reupload(self, media_id: str, method: str) -> CreateAnswer:
        """``PUT .../media/{id}/reupload/``: a new upload for the same media."""
        return await self._json(
            CreateAnswer,
            "PUT",
            self._media_path(media_id) + "reupload/",
            call="media reupload",
            body={"upload": {"method": method}},
        )

    async def find(self, external_id: str) -> list[MediaAnswer]:
        """Media whose external_id is ``external_id`` (one call, first page)."""
        query = {"q": f"external_id:{external_id}", "page": "1", "page_length": "10"}
        answer = await self._json(
            MediaList, "GET", self._media_path(), call="media list", query=query
        )
        return answer.media

    async def list_with(
        self, param: str, value: str, *, page: int, page_length: int, sort: str | None = None
    ) -> MediaList:
        """One page of the media whose custom param ``param`` is ``value`` (``sort``:
        e.g. ``created:asc``, the oldest first)."""
        query = {
            "q": f'custom_params.{param}:"{value}"',
            "page": str(page),
            "page_length": str(page_length),
        }
        if sort is not None:
            query["sort"] = sort
        return await self._json(
            MediaList, "GET", self._media_path(), call="media list", query=query
        )

    async def show(self, media_id: str) -> MediaAnswer:
        """``GET .../media/{id}/``; VideoMissing on 404."""
        return await self._json(MediaAnswer, "GET", self._media_path(media_id), call="media show")

    async def update(self, media_id: str, metadata: Mapping[str, Any]) -> None:
        """``PATCH .../media/{id}/`` with the given metadata fields."""
        await self._call(
            "PATCH",
            self._media_path(media_id),
            call="media update",
            body={"metadata": dict(metadata)},
        )

    async def list_parts(
        self, upload_id: str, token: str, page: int, page_length: int
    ) -> PartsPage:
        """One page of an upload's parts (links signed now; etags of parts received)."""
        query = {"page": str(page), "page_length": str(page_length)}
        return await self._json(
            PartsPage,
            "GET",
            f"/v2/uploads/{upload_id}/parts",
            call="parts list",
            token=token,
            query=query,
        )

    async def complete(self, upload_id: str, token: str) -> bool:
        """``PUT /v2/uploads/{id}/complete``: True when completed now, False when the
        platform says it was already completed (a re-sent complete: 409)."""
        try:
            await self._call(
                "PUT", f"/v2/uploads/{upload_id}/complete", call="upload complete", token=token
            )
        except ApiError as exc:
            if exc.http_status == 409 and exc.code == "upload_already_completed":
                return False
            raise
        return True


def rate_limit_from(headers: Mapping[str, str]) -> RateLimit | None:
    """The quota an answer's headers state (lower-case names): JW's
    ``jw-request-limit``/``jw-request-remaining``, else ``x-ratelimit-*``; the reset time
    (Unix seconds) from ``x-ratelimit-reset`` when sent. None when no count is given."""
    limit = _header_int(headers, "jw-request-limit", "x-ratelimit-limit")
    remaining = _header_int(headers, "jw-request-remaining", "x-ratelimit-remaining")
    if remaining is None:
        return None
    return RateLimit(
        limit=limit, remaining=remaining, reset=_header_int(headers, "x-ratelimit-reset")
    )


def _header_int(headers: Mapping[str, str], *names: str) -> int | None:
    for name in names:
        value = headers.get(name, "").strip()
        if value.isdigit():
            return int(value)
    return None


# Calls on the site's media collection: a 404 there is the site, not a media, missing.
_SITE_CALLS = frozenset({"media create", "media list"})


def _unknown_site(response: HttpResponse, *, call: str, site_id: str) -> ConfigError:
    """A 404 on the site's collection: no job can get past it (the batch stops)."""
    code, message = _error_fields(response)
    return ConfigError(
        f"{call}: 404 {code}: {message}: no site {site_id!r} there for this API secret: "
        "check --site-id (VIDLIFT_SITE_ID), and --endpoint (the API's base URL, without /v2)"
    )


def _failure(response: HttpResponse, *, call: str, on_upload: bool) -> ApiError | UploadGone:
    """The error class for a non-2xx answer of an API call."""
    code, message = _error_fields(response)
    status = response.status
    kwargs: dict[str, Any] = {"http_status": status, "code": code, "message": message, "call": call}
    if status in (401, 403):
        return AuthError(**kwargs)
    if status == 429:
        reset = _header_int(response.headers, "x-ratelimit-reset")
        return RateLimited(reset_at=float(reset) if reset is not None else None, **kwargs)
    if status == 404:
        if on_upload:
            return UploadGone(f"{call}: the platform no longer knows this upload ({message})")
        return VideoMissing(**kwargs)
    return ApiError(**kwargs)


def _error_fields(response: HttpResponse) -> tuple[str, str]:
    try:
        answer = parse_answer(ErrorAnswer, response.body, call="error")
    except AnswerParseError:
        return f"http_{response.status}", "the answer was not a JSON error"
    if not answer.errors:
        return f"http_{response.status}", "no error description"
    first = answer.errors[0]
    return first.code or f"http_{response.status}", first.description[:300]
