"""Shared CLI options and value parsers (cli layer)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

from vidlift.config import DEFAULT_ENDPOINT, parse_size
from vidlift.errors import ConfigError

__all__ = ["credential_options", "endpoint_option", "parse_custom", "size_type", "warn_insecure"]

F = TypeVar("F", bound=Callable[..., Any])


class _SizeType(click.ParamType[int]):
    name = "size"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_size(str(value), what=param.name if param and param.name else "size")
        except ConfigError as exc:
            self.fail(str(exc), param, ctx)


size_type = _SizeType()


def parse_custom(pairs: tuple[str, ...]) -> dict[str, str]:
    """``name=value`` pairs from repeated ``--custom`` flags."""
    custom: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"expected name=value, got {pair!r}", param_hint="--custom")
        custom[name.strip()] = value
    return custom


def _no_empty_endpoint(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """click takes an empty VIDLIFT_ENDPOINT for an unset one: refuse it instead of
    quietly using the default (run refuses it too)."""
    source = ctx.get_parameter_source(param.name or "endpoint")
    if source is click.core.ParameterSource.DEFAULT and os.environ.get("VIDLIFT_ENDPOINT") == "":
        raise click.BadParameter(
            f"VIDLIFT_ENDPOINT is empty: set it to the API base URL (e.g. {DEFAULT_ENDPOINT}) "
            "or unset it"
        )
    return value


def endpoint_option(func: F) -> F:
    """``--endpoint``: the API base URL."""
    return click.option(
        "--endpoint",
        envvar="VIDLIFT_ENDPOINT",
        default=DEFAULT_ENDPOINT,
        show_default=True,
        callback=_no_empty_endpoint,
        help="API base URL (the emulator: http://127.0.0.1:8080).",
    )(func)


def credential_options(func: F) -> F:
    """``--api-key`` / ``--api-secret`` from flags or VIDLIFT_API_KEY / VIDLIFT_API_SECRET."""
    func = click.option(
        "--api-secret",
        envvar="VIDLIFT_API_SECRET",
        default=None,
        show_envvar=True,
        help="API secret (prefer the environment variable; never printed).",
    )(func)
    return click.option(
        "--api-key", envvar="VIDLIFT_API_KEY", default=None, show_envvar=True, help="API key."
    )(func)


def warn_insecure() -> None:
    """The warning every command prints when TLS verification is turned off."""
    click.echo("vidlift: warning: TLS certificate verification is OFF (--insecure)", err=True)
