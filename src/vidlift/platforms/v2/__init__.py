"""JW Platform's v2 Management API as a ``Platform``: Bearer API calls, multipart uploads
to pre-signed part links with several parts in flight, direct uploads (platforms layer).

::

    platform = V2Platform(transport, V2Settings(endpoint=..., site_id=..., api_secret=...))
    handle = await platform.create(metadata, marker=job_id, tag=None, size_bytes=size)
    transfer = platform.transfer(handle, size, RangeSet())
    finished = await transfer.run(reader, on_sent=..., on_acked=...)

Layer: platforms; may import: client, protocol, config, errors.
"""

from __future__ import annotations

from vidlift.platforms.v2.plan import PartPlan, plan_parts
from vidlift.platforms.v2.platform import V2Platform, V2Settings
from vidlift.platforms.v2.transfer import V2DirectTransfer, V2Transfer

__all__ = [
    "PartPlan",
    "V2DirectTransfer",
    "V2Platform",
    "V2Settings",
    "V2Transfer",
    "plan_parts",
]
