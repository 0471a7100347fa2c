"""Where video bytes come from (sources layer): the Source seam and its implementations.

:mod:`vidlift.sources.base` holds the :class:`Source` / :class:`SourceReader` protocols
every implementation conforms to (local files, HTTP(S) origins, S3 objects). This layer
may import ``client``, ``protocol``, ``config`` and ``errors``; never ``platforms``,
``journal``, ``manifest``, ``jobs``, ``testing`` or ``cli``.
"""

from vidlift.sources.base import Source, SourceReader

__all__ = ["Source", "SourceReader"]
