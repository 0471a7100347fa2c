"""The emulator's aiohttp application: routes, the stats endpoint, and the edge middleware
that injects latency, slow and truncated answers, drops connections and logs each request
(part of the public test kit, :mod:`vidlift.testing`).
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from vidlift.testing.emulator.answers import ApiFailure, error_answer
from vidlift.testing.emulator.api import API_ROUTE, handle_api
from vidlift.testing.emulator.config import UPLOAD_PATH
from vidlift.testing.emulator.context import CONTEXT, ConnectionDrop, EmulatorContext, RequestLog
from vidlift.testing.emulator.fetcher import FETCHER, Fetcher
from vidlift.testing.emulator.formats import ApiFormat
from vidlift.testing.emulator.replies import BARE, answer_response, strip_bare_content_type
from vidlift.testing.emulator.segment import BYTES_IN
from vidlift.testing.emulator.upload import handle_upload
from vidlift.testing.emulator.v1_s3 import S3_ROUTE, handle_s3_put
from vidlift.testing.emulator.v2_api import add_v2_routes
from vidlift.testing.emulator.v2_parts import LINK_ROUTE, handle_link_put

__all__ = ["STATS_PATH", "build_app", "stats_document"]

STATS_PATH = "/_emulator/stats"


def build_app(ctx: EmulatorContext) -> web.Application:
    """The application serving the v1 API and upload route, the v2 API and upload links,
    and the emulator's own endpoints."""
    app = web.Application(middlewares=[_edge])
    app[CONTEXT] = ctx
    app[FETCHER] = Fetcher()
    app.on_cleanup.append(_stop_fetches)
    app.router.add_route("*", UPLOAD_PATH, handle_upload)
    app.router.add_route("*", API_ROUTE, handle_api)
    app.router.add_get(STATS_PATH, _handle_stats)
    add_v2_routes(app)
    app.router.add_route("*", LINK_ROUTE, handle_link_put)
    app.router.add_route("*", S3_ROUTE, handle_s3_put)
    app.router.add_route("*", "/{tail:.*}", _handle_unknown)
    app.on_response_prepare.append(strip_bare_content_type)
    return app


async def _stop_fetches(app: web.Application) -> None:
    await app[FETCHER].close()


@web.middleware
async def _edge(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Faults around every request but the stats endpoint; the request log; drops."""
    ctx = request.app[CONTEXT]
    started = time.perf_counter()
    status: int | None = None
    bytes_out = 0
    faulty = not request.path.startswith("/_emulator/")
    try:
        delay = ctx.faults.latency_s() if faulty else 0.0
        if delay > 0:
            await asyncio.sleep(delay)
        response = await handler(request)
        if faulty:
            response = await _deliver_with_faults(ctx, request, response)
        status = response.status
        bytes_out = response.content_length or 0
        return response
    except ConnectionDrop:
        ctx.requests.add("dropped")
        _abort(request)
        return web.Response(status=499)  # never sent: the transport is gone
    except ConnectionResetError:  # the client went away mid-request (killed, dropped)
        ctx.requests.add("client_gone")
        status = 499
        return web.Response(status=status)  # never sent: nobody to read it
    except web.HTTPException as exc:  # raised by aiohttp itself (e.g. a form body too large)
        status = exc.status
        raise
    except Exception:
        status = 500  # aiohttp answers 500 and logs the traceback
        raise
    finally:
        _log(ctx, request, status, bytes_out, started)


async def _deliver_with_faults(
    ctx: EmulatorContext, request: web.Request, response: web.StreamResponse
) -> web.StreamResponse:
    """Slow answers (a delay) and truncated answers (headers, part of the body, close)."""
    delay = ctx.faults.slow_answer_s()
    if delay > 0:
        await asyncio.sleep(delay)
    if not isinstance(response, web.Response) or not isinstance(response.body, bytes):
        return response
    body = response.body
    cut = ctx.faults.truncation_point(len(body))
    if cut is None:
        return response
    stream = web.StreamResponse(status=response.status, headers=response.headers)
    stream[BARE] = response.get(BARE, False)
    stream.content_length = len(body)
    await stream.prepare(request)
    await stream.write(body[:cut])
    _abort(request)
    return stream


def _abort(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()  # unread request bytes make the kernel answer with a reset


def _log(
    ctx: EmulatorContext, request: web.Request, status: int | None, bytes_out: int, started: float
) -> None:
    if ctx.on_request is None:
        return
    bytes_in = request.get(BYTES_IN, request.content_length or 0)
    entry = RequestLog(
        method=request.method,
        path=request.path,  # never the query string: it carries api_signature
        status=status,
        bytes_in=int(bytes_in),
        bytes_out=bytes_out,
        elapsed_ms=(time.perf_counter() - started) * 1000.0,
    )
    ctx.on_request(entry)


def stats_document(ctx: EmulatorContext) -> dict[str, object]:
    """What ``GET /_emulator/stats`` answers (emulator-only; not signed)."""
    videos = [
        {
            "key": video.key,
            "title": video.title,
            "status": str(video.status),
            "size": video.size,
            "md5": video.md5,
            "sha256": video.sha256,
            "custom": dict(video.custom),
        }
        for video in ctx.store.videos()
    ]
    now = ctx.clock()
    media = [
        {
            "key": record.media_id,
            "status": str(ctx.v2.status_of(record, now, ctx.config.processing_s)),
            "size": record.size,
            "md5": record.md5,
            "external_id": record.external_id,
        }
        for record in ctx.v2.all_media()
    ]
    return {
        "faults": ctx.faults.counts(),
        "requests": ctx.requests.snapshot(),
        "videos": videos,
        "media": media,
    }


async def _handle_stats(request: web.Request) -> web.Response:
    return web.json_response(stats_document(request.app[CONTEXT]))


async def _handle_unknown(request: web.Request) -> web.Response:
    failure = ApiFailure(404, "NotFound", f"no such API call or resource: {request.path}")
    return answer_response(error_answer(failure, None), ApiFormat.JSON, 404)
