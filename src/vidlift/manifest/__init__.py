"""Outside input (manifest files) to typed rows (manifest layer).

:func:`iter_manifest` streams a CSV or JSON Lines manifest and yields one
:class:`ManifestEntry` (ready to upload) or :class:`ManifestProblem` (a bad row, with
``file:line`` and the reason) per row. Job ids: :mod:`vidlift.manifest.ids`.

Layer: manifest; may import: client, protocol, config, errors.
"""

from vidlift.manifest.ids import derive_job_id
from vidlift.manifest.reader import iter_manifest
from vidlift.manifest.rows import ManifestEntry, ManifestProblem, ManifestRow

__all__ = [
    "ManifestEntry",
    "ManifestProblem",
    "ManifestRow",
    "derive_job_id",
    "iter_manifest",
]
