"""``vidlift serve``: run the local JW Platform emulator until Ctrl-C or SIGTERM (cli layer).

stdout: the first line is exactly ``vidlift emulator listening on http://HOST:PORT``, then
the credentials to use and the data directory. stderr: one line per request (method, path,
status, bytes, milliseconds) — never a query string, so never a signature or the secret.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import tomllib
from pathlib import Path

import click

from vidlift.errors import ConfigError
from vidlift.testing.emulator import (
    Emulator,
    EmulatorConfig,
    FaultPlan,
    RequestLog,
    load_fault_plan,
    run_forever,
)
from vidlift.testing.emulator.config import (
    DEFAULT_API_KEY,
    DEFAULT_API_SECRET,
    DEFAULT_SITE_ID,
    fault_plan_from_mapping,
)

__all__ = ["serve"]


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8080,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="TCP port (0: any free port; the first output line says which).",
)
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep state here across restarts (default: a temp dir deleted on exit).",
)
@click.option("--api-key", default=DEFAULT_API_KEY, show_default=True, help="API key to accept.")
@click.option(
    "--api-secret", default=DEFAULT_API_SECRET, help="API secret to check signatures with."
)
@click.option(
    "--faults",
    "faults_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Fault plan TOML (see configs/emulator/).",
)
@click.option(
    "--fault",
    "fault_overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set one fault plan key (repeatable), e.g. --fault drop_mid_segment_p=0.1",
)
@click.option("--seed", type=int, help="Seed of the fault generator (overrides the plan's).")
@click.option("--public-url", help="Base URL clients reach this server at (behind a proxy).")
@click.option("--site-id", default=DEFAULT_SITE_ID, show_default=True, help="v2 site id to serve.")
@click.option(
    "--rate-limit", type=click.IntRange(min=1), help="API calls per minute per key (v2: token)."
)
@click.option(
    "--api-window-s",
    type=click.FloatRange(min=0.1),
    default=60.0,
    show_default=True,
    help="The rate limit's window (a 429 says wait until its end); shorter: tests, benchmarks.",
)
@click.option("--no-fsync", is_flag=True, help="Skip fsync (faster, not crash-safe).")
@click.option("--discard", is_flag=True, help="Keep checksums of in-order bytes, not the bytes.")
@click.option("--no-checksums", is_flag=True, help="Skip md5/sha256 of completed files.")
@click.option(
    "--redirect-3xx", is_flag=True, help="Answer a final segment with redirect_address by 303."
)
@click.option("--quiet", is_flag=True, help="Do not log each request.")
def serve(
    host: str,
    port: int,
    data_dir: Path | None,
    api_key: str,
    api_secret: str,
    faults_file: Path | None,
    fault_overrides: tuple[str, ...],
    seed: int | None,
    public_url: str | None,
    site_id: str,
    rate_limit: int | None,
    api_window_s: float,
    no_fsync: bool,
    discard: bool,
    no_checksums: bool,
    redirect_3xx: bool,
    quiet: bool,
) -> None:
    """Run the local JW Platform emulator (signed API + resumable upload server)."""
    try:
        plan = _fault_plan(faults_file, fault_overrides, seed)
        config = EmulatorConfig(
            data_dir=data_dir,
            host=host,
            port=port,
            api_key=api_key,
            api_secret=api_secret,
            public_url=public_url,
            faults=plan,
            api_calls_per_minute=rate_limit,
            api_window_s=api_window_s,
            site_id=site_id,
            fsync=not no_fsync,
            discard=discard,
            checksums=not no_checksums,
            redirect_with_3xx=redirect_3xx,
        )
    except (ConfigError, ValueError) as exc:
        raise click.UsageError(str(exc)) from exc
    try:
        asyncio.run(
            run_forever(config, on_ready=_announce, on_request=None if quiet else _log_request)
        )
    except OSError as exc:
        raise click.ClickException(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from exc
    click.echo("vidlift emulator stopped")


def _fault_plan(path: Path | None, overrides: tuple[str, ...], seed: int | None) -> FaultPlan:
    plan = load_fault_plan(path) if path is not None else FaultPlan()
    values: dict[str, object] = {
        field.name: getattr(plan, field.name) for field in dataclasses.fields(plan)
    }
    for item in overrides:
        name, sep, raw = item.partition("=")
        if not sep:
            raise ConfigError(f"--fault {item!r}: expected KEY=VALUE")
        try:
            values[name.strip()] = tomllib.loads(f"value = {raw.strip()}")["value"]
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"--fault {item!r}: the value is not a TOML value") from exc
    if seed is not None:
        values["seed"] = seed
    return fault_plan_from_mapping(values, origin="--fault")


def _announce(emulator: Emulator) -> None:
    config = emulator.config
    where = f"{emulator.data_dir}" + ("" if config.data_dir else " (temporary, deleted on exit)")
    lines = [
        f"vidlift emulator listening on {emulator.endpoint}",
        f"api key:    {emulator.api_key}",
        f"api secret: {emulator.api_secret}",
        f"data dir:   {where}",
        f"faults:     {_describe_faults(config.faults)}",
        f"try:        vidlift upload FILE --endpoint {emulator.endpoint}",
    ]
    for line in lines:
        click.echo(line)
    sys.stdout.flush()


def _describe_faults(plan: FaultPlan) -> str:
    if not plan.active:
        return "none"
    default = FaultPlan()
    changed = [
        f"{field.name}={getattr(plan, field.name)}"
        for field in dataclasses.fields(plan)
        if getattr(plan, field.name) != getattr(default, field.name)
    ]
    return ", ".join(changed)


def _log_request(entry: RequestLog) -> None:
    status = "dropped" if entry.status is None else str(entry.status)
    line = (
        f"{entry.method} {entry.path} {status} in={entry.bytes_in} out={entry.bytes_out} "
        f"{entry.elapsed_ms:.1f}ms"
    )
    print(line, file=sys.stderr, flush=True)
