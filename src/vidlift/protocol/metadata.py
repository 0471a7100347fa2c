"""Video metadata and its API parameters (protocol layer: pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

__all__ = ["VideoMetadata"]


@dataclass(frozen=True, slots=True)
class VideoMetadata:
    """What a video is created with: title, description, tags, date, link, custom.*."""

    title: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()
    date: datetime | None = None
    link: str = ""
    custom: Mapping[str, str] = field(default_factory=dict)

    def to_params(self) -> dict[str, str]:
        """API parameters of videos/create: empty fields left out, ``custom.<name>``."""
        params: dict[str, str] = {}
        if self.title:
            params["title"] = self.title
        if self.description:
            params["description"] = self.description
        if self.tags:
            params["tags"] = ", ".join(self.tags)
        if self.date is not None:
            # A naive date is UTC: datetime.timestamp() would read the machine's time
            # zone, and this layer depends on nothing outside its arguments.
            date = self.date if self.date.tzinfo else self.date.replace(tzinfo=UTC)
            params["date"] = str(int(date.timestamp()))
        if self.link:
            params["link"] = self.link
        for name, value in self.custom.items():
            params[f"custom.{name}"] = value
        return params
