"""Where video bytes come from (sources layer): the Source seam and its implementations.

:mod:`vidlift.sources.base` holds the :class:`Source` / :class:`SourceReader` protocols
every implementation conforms to (local files, HTTP(S) origins, S3 objects);
:class:`~vidlift.sources.opener.SourceOpener` opens one by reference (a path,
``http(s)://`` or ``s3://``).

Layer: sources; may import: client, protocol, config, errors.
"""

from vidlift.sources.base import Source, SourceReader

__all__ = ["Source", "SourceReader"]
