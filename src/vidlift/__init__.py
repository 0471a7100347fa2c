"""vidlift: resumable, crash-safe bulk video uploads to JW Platform."""

from vidlift.errors import VidliftError

__all__ = ["VidliftError", "__version__"]

__version__ = "0.1.0"
