"""Video platforms behind one seam, :class:`~vidlift.platforms.base.Platform`.

Layer: platforms; may import: client, protocol, config, errors.

Beside ``sources``, ``journal`` and ``manifest`` (none imports another of them). Platforms
read bytes through ``client.reading.RangeReader``, which sources implement. ``v1`` is JW
Platform's v1 API with the seed's resumable upload protocol; ``v2`` is JW's current API
(multipart uploads to pre-signed part URLs, several parts in flight).
"""
