"""Shared CLI options and value parsers (cli layer)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from vidlift.config import DEFAULT_CHUNK_SIZE_BYTES, MiB, parse_size
from vidlift.errors import ConfigError

__all__ = [
    "chunk_size_option",
    "config_option",
    "parse_custom",
    "size_type",
    "warn_insecure",
]

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


def config_option(func: F) -> F:
    """``--config FILE`` (or VIDLIFT_CONFIG): the TOML settings file."""
    return click.option(
        "--config",
        "config_file",
        type=click.Path(path_type=Path, dir_okay=False),
        envvar="VIDLIFT_CONFIG",
        default=None,
        help="TOML settings file.",
    )(func)


def chunk_size_option(func: F) -> F:
    """``--chunk-size``: the ``chunk_size`` setting (its default: vidlift.config)."""
    return click.option(
        "--chunk-size",
        type=size_type,
        default=None,
        help=f"Segment size (default {DEFAULT_CHUNK_SIZE_BYTES // MiB}MiB).",
    )(func)


def warn_insecure() -> None:
    """The warning every command prints when TLS verification is turned off."""
    click.echo("vidlift: warning: TLS certificate verification is OFF (--insecure)", err=True)
