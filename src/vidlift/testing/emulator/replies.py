"""Turning the emulator's answers into aiohttp responses (part of the public test kit,
:mod:`vidlift.testing`).

A response can be marked *bare*: it then goes out without a Content-Type header, as the
nginx upload module sends its 201 answers (../shared/PROTOCOL.md).
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import hdrs, web

from vidlift.testing.emulator.answers import nginx_page
from vidlift.testing.emulator.formats import Answer, ApiFormat, render

__all__ = ["BARE", "answer_response", "bare_response", "nginx_error", "strip_bare_content_type"]

BARE = web.ResponseKey("vidlift_emulator_bare", bool)


def answer_response(
    answer: Answer,
    api_format: ApiFormat,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """``answer`` rendered in ``api_format``."""
    rendered = render(answer, api_format)
    response = web.Response(status=status, body=rendered.body, headers=headers)
    response.headers[hdrs.CONTENT_TYPE] = rendered.content_type
    return response


def bare_response(status: int, text: str, headers: Mapping[str, str] | None = None) -> web.Response:
    """A plain body with no Content-Type header at all."""
    response = web.Response(status=status, body=text.encode("utf-8"), headers=headers)
    response[BARE] = True
    return response


def nginx_error(status: int, headers: Mapping[str, str] | None = None) -> web.Response:
    """An HTML error page as nginx itself sends it."""
    response = web.Response(status=status, body=nginx_page(status), headers=headers)
    response.headers[hdrs.CONTENT_TYPE] = "text/html"
    return response


async def strip_bare_content_type(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare`` hook: drop the Content-Type aiohttp adds to bare responses."""
    del request
    if response.get(BARE):
        response.headers.popall(hdrs.CONTENT_TYPE, None)
    response.headers[hdrs.SERVER] = "vidlift-emulator"
