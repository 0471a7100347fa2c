"""``vidlift upload``: one file, through the API or straight to an upload URL (cli layer).

Its settings come through the same loader as ``vidlift run``'s (flags, then VIDLIFT_*
variables, then the ``--config`` TOML file, then defaults): chunk size, endpoint, API
format, timeouts, retries, bandwidth limit, TLS and md5 verification. It speaks the v1 API.

Users script one ``vidlift upload`` per file, so its start-up counts: the upload stack
(pydantic, the answer models, the settings loader) is imported when the command runs,
not for ``--help`` or a usage error, and it sends through
:class:`~vidlift.client.h11_transport.H11Transport`, not aiohttp, whose import alone
cost more than the rest (benchmarks/startup.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from vidlift.cli.exits import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    fail,
    fatal_errors,
    unwrap_error,
)
from vidlift.cli.options import (
    chunk_size_option,
    config_option,
    parse_custom,
    size_type,
    warn_insecure,
)
from vidlift.cli.wording import count_of
from vidlift.errors import AuthError, ConfigError, ConnectError, SourceChanged, VidliftError

if TYPE_CHECKING:
    from vidlift.cli.resume import KeptUploadState
    from vidlift.cli.settings import RunConfig
    from vidlift.jobs.facade import UploadResult

__all__ = ["upload"]


def _checked(result: UploadResult, *, protocol_only: bool) -> str:
    """What showed the file arrived whole: its md5, its size (the final answer's or the
    platform's), or nothing (``--upload-url`` to a server whose answer states no size)."""
    if result.md5:
        return "md5"
    if (result.final is not None and result.final.size is not None) or not protocol_only:
        return "size"
    return "none"


_UNCHECKED = (
    "vidlift: warning: nothing checked that the server holds the whole file: its final "
    "answer states no size, and --upload-url has no API to ask"
)


def _result_document(result: UploadResult, checked: str) -> dict[str, Any]:
    final = result.final.model_dump(mode="json") if result.final is not None else None
    return {
        "status": "ok",
        "path": str(result.path),
        "video_key": result.video_key,
        "size": result.size_bytes,
        "md5": result.md5,
        "checked": checked,  # md5, size or none
        "bytes_sent": result.bytes_sent,
        "segments_sent": result.segments_sent,  # v2: parts
        "failures_survived": result.failures,
        "processing": "ready" if result.ready else None,  # --wait-ready
        "final_answer": final,
    }


def _print_human(result: UploadResult, unit: str) -> None:
    click.echo(f"uploaded {result.path}")
    click.echo(f"  video key : {result.video_key or '(not reported)'}")
    click.echo(f"  size      : {result.size_bytes} bytes")
    if result.md5:
        click.echo(f"  md5       : {result.md5} (matches the platform)")
    click.echo(
        f"  sent      : {count_of(result.bytes_sent, 'byte')} in "
        f"{count_of(result.segments_sent, unit)}, "
        f"{count_of(result.failures, 'failure')} survived"
    )
    if result.ready:
        click.echo("  processing: ready (the platform has processed it)")
    final = result.final
    if final is not None and final.redirect_link is not None:
        click.echo(f"  redirect  : {final.redirect_link.address} {final.redirect_link.query}")


async def _run(
    path: Path, options: dict[str, Any], config: RunConfig, state: KeptUploadState | None
) -> UploadResult:
    from vidlift.cli.main import start_collecting
    from vidlift.cli.progress import file_progress
    from vidlift.client.h11_transport import H11Transport
    from vidlift.client.source import SourceFile
    from vidlift.jobs.facade import Client

    start_collecting()  # the stack is imported (vidlift.cli.main)
    source = await SourceFile.inspect(path)  # fail fast, before any request
    settings = config.upload_settings()
    async with Client(
        endpoint=config.api_endpoint(),
        api_key=config.api_key,
        api_secret=config.api_secret,
        settings=settings,
        # h11, not aiohttp: one file, one process, whose start-up counts (issue 15)
        transport=H11Transport(timeouts=settings.timeouts, verify_tls=settings.verify_tls),
        bwlimit_bytes_per_s=config.bwlimit,
        site_id=(config.site_id or "") if config.api == "v2" else None,  # "": refused
        parts_in_flight=config.parts_in_flight,
    ) as client:
        with file_progress(
            path.name, source.size_bytes, enabled=None if not options["json"] else False
        ) as bar:
            if options["upload_url"]:
                return await client.upload_to_url(
                    path,
                    upload_url=options["upload_url"],
                    session_id=options["session_id"],
                    on_progress=bar,
                )
            return await client.upload(
                path,
                title=options["title"],
                description=options["description"] or "",
                tags=[t.strip() for t in (options["tags"] or "").split(",") if t.strip()],
                custom=parse_custom(options["custom"]),
                on_progress=bar,
                state=state,
                wait_ready=config.wait_ready,
            )


def _interrupted(state: KeptUploadState | None, file: Path) -> NoReturn:
    """Ctrl-C: say what is kept and how to go on; exit 130."""
    if state is not None and state.video_key:
        held = sum(end - start + 1 for start, end in state.acked)
        click.echo(
            f"vidlift: interrupted; video {state.video_key} holds {held} bytes of {file}: "
            "run the same command again to continue that upload",
            err=True,
        )
    else:
        click.echo("vidlift: interrupted; run the same command again to continue", err=True)
    sys.exit(EXIT_INTERRUPTED)


def _failed(exc: BaseException, state: KeptUploadState | None, file: Path, as_json: bool) -> None:
    """Exit 130 (Ctrl-C), 2 (settings, credentials) or 1 (the upload failed); a bug
    keeps its traceback."""
    if isinstance(exc, KeyboardInterrupt):
        _interrupted(state, file)
    if not isinstance(exc, VidliftError):
        raise exc
    if isinstance(exc, ConfigError | AuthError):
        fail(str(exc), EXIT_USAGE)
    if isinstance(exc, SourceChanged) and state is not None and state.job_id:
        exc = SourceChanged(exc.path, f"{exc.reason}: run the same command with --restart")
    if as_json:
        click.echo(json.dumps({"status": "error", "path": str(file), "error": str(exc)}))
    fail(str(exc), EXIT_FAILED)


def _located(exc: BaseException, options: dict[str, Any], config: RunConfig) -> BaseException:
    """A connection that could not be made, said with the address it was for and what
    to check (the upload URL's host and path only: its query may hold a token)."""
    if not isinstance(exc, VidliftError):
        return exc
    if not isinstance(exc, ConnectError) and not isinstance(exc.__cause__, ConnectError):
        return exc
    from vidlift.client.transport import redact_urls

    if options["upload_url"]:
        where = f"the upload server ({redact_urls(options['upload_url'])}): check --upload-url"
    else:
        where = f"the platform at {config.api_endpoint()}: check --endpoint"
    return ConnectError(
        f"{exc}; could not reach {where} and the network, then run the same command again"
    )


@click.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=True))
@click.option("--title", default=None, help="Video title (default: the file name).")
@click.option("--description", default=None)
@click.option("--tags", default=None, help="Comma-separated tags.")
@click.option(
    "--custom", multiple=True, metavar="NAME=VALUE", help="Custom parameter (repeatable)."
)
@config_option
@click.option(
    "--endpoint", default=None, help="API base URL (the emulator: http://127.0.0.1:8080)."
)
@click.option("--api-key", default=None, help="API key (or VIDLIFT_API_KEY).")
@click.option("--api-secret", default=None, help="Prefer VIDLIFT_API_SECRET; never printed.")
@chunk_size_option
@click.option(
    "--api-format", type=click.Choice(["json", "xml"]), default=None, help="API answers (json)."
)
@click.option("--bwlimit", type=size_type, default=None, help="Bandwidth cap in bytes/s, e.g. 50M.")
@click.option(
    "--upload-url", default=None, help="Upload into this URL (protocol only, no API call)."
)
@click.option("--session-id", default=None, help="Session id for --upload-url.")
@click.option(
    "--insecure", is_flag=True, default=None, help="Do not verify TLS certificates (unsafe)."
)
@click.option(
    "--verify-md5/--no-verify-md5",
    default=None,
    help="Compare the md5 with the platform's (default on; off: the size only).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option(
    "--api", type=click.Choice(["v1", "v2"]), default=None, help="JW API: v1 (default) or v2."
)
@click.option("--site-id", default=None, help="v2: the site id (or VIDLIFT_SITE_ID).")
@click.option("--parts-in-flight", type=int, default=None, help="v2: parts of the file at once.")
@click.option(
    "--upload-method",
    type=click.Choice(["multipart", "s3"]),
    default=None,
    help="v1: resumable segments (default), or s3: one signed PUT (not resumable).",
)
@click.option(
    "--wait-ready/--no-wait-ready",
    default=None,
    help="Then wait until the platform has processed the video (or says it failed).",
)
@click.option(
    "--restart",
    is_flag=True,
    help="Forget this file's unfinished earlier upload and start a new one (a new video).",
)
def upload(file: Path, config_file: Path | None, as_json: bool, **flags: Any) -> None:
    """Upload FILE: create a video through the API, then send it in resumable segments."""
    options = {
        name: flags.pop(name)
        for name in (
            "title",
            "description",
            "tags",
            "custom",
            "upload_url",
            "session_id",
            "restart",
        )
    }
    options["json"] = as_json
    if bool(options["upload_url"]) != bool(options["session_id"]):
        raise click.UsageError("--upload-url and --session-id go together")
    if flags.get("api") == "v2" and options["upload_url"]:
        raise click.UsageError("--upload-url is v1's protocol-only upload (not with --api v2)")
    import anyio

    from vidlift.cli.resume import KeptUploadState, state_path
    from vidlift.cli.settings import load_run_config

    state: KeptUploadState | None = None
    try:
        with fatal_errors():  # bad settings: exit 2, before any request
            config = load_run_config(flags, config_file=config_file)
            if config.insecure:
                warn_insecure()
            if not options["upload_url"]:
                config.credentials()  # missing: said now, before the file is read
                owner = f"v2/{config.site_id}" if config.api == "v2" else config.api_key or ""
                where = state_path(file, config.endpoint, owner)
                if options["restart"]:
                    KeptUploadState(where).forget()
                state = KeptUploadState.load(where)
        result = anyio.run(_run, file, options, config, state)
    except (KeyboardInterrupt, VidliftError, BaseExceptionGroup) as raised:
        _failed(_located(unwrap_error(raised), options, config), state, file, as_json)
    if state is not None:
        state.forget()
    checked = _checked(result, protocol_only=bool(options["upload_url"]))
    if checked == "none":
        click.echo(_UNCHECKED, err=True)
    if as_json:
        click.echo(json.dumps(_result_document(result, checked)))
    else:
        _print_human(result, "part" if config.api == "v2" else "segment")
