"""The exception tree of vidlift (bottom layer: imports nothing of vidlift).

Every error vidlift raises on purpose is a :class:`VidliftError`. The tree::

    VidliftError
    ├── ConfigError                  bad settings, missing credentials (CLI exit 2)
    ├── ManifestError                a bad manifest row: file, line, field, reason
    ├── SourceError                  a source (file, URL, object): missing, unreadable, empty
    │   └── SourceChanged            its size or identity changed since it was inspected
    ├── JournalError                 the journal cannot be opened or written
    │   └── LeaseLost                a worker's lease on a job was taken over: write refused
    ├── ProgrammingError             vidlift broke its own rules (a bug): stops the batch
    │   └── IllegalTransition        a job change not allowed from the job's state
    ├── LocalProtocolError           *we* were about to do something the protocol forbids
    ├── RemoteProtocolError          *the peer* said something we cannot accept
    │   ├── AnswerParseError         malformed or unsafe body (bad XML/JSON, DTD, pickle)
    │   └── RangeHeaderError         a Range answer that is garbage or beyond the total
    ├── PlatformUnreachable          no answer from the platform for too long: stop the batch
    ├── Processing                   the platform is processing a video (--wait-ready)
    │   ├── StillProcessing          not ready yet: ask again later
    │   └── ProcessingFailed         the platform could not process it: its message
    ├── PosterNotSet                 a row's poster could not be set (reported, not fatal)
    ├── TransportError               the request may or may not have reached the server
    │   ├── ConnectError             could not connect (nothing was sent)
    │   ├── RequestTimeout           no answer in time
    │   ├── ConnectionDropped        the connection closed without an answer
    │   └── SourceUnavailable        a source's server answered 5xx or 429: retry later
    ├── ApiError                     the API answered status=error (code, title, message)
    │   ├── AuthError                bad credentials or signature: stops the batch
    │   ├── NonceReused              400 NonceInvalid: sign again with a new nonce
    │   ├── RateLimited              429 RateLimitExceeded, with the reset time
    │   └── VideoMissing             404: the video is gone (deleted): created again, once
    └── UploadError                  an upload that cannot go on as it is
        ├── SegmentRejected          the upload server refuses this request for good
        ├── UploadServerBusy         503 / 5xx: try again later
        ├── RangesShrank             ranges went backwards: session completed or reset
        ├── PartLinkRefused          v2: 403 on a pre-signed part link: list the parts again
        ├── UploadGone               v2: the platform no longer knows the upload: reconcile
        └── VerificationError        the platform's size or md5 differs from the source

The classes carry the facts (status, code, session id, path) as attributes so that the
decision table in :mod:`vidlift.jobs.policy` can decide without parsing messages. No
message ever contains the API secret: the secret is never passed to an exception.
"""

from __future__ import annotations

__all__ = [
    "AnswerParseError",
    "ApiError",
    "AuthError",
    "ConfigError",
    "ConnectError",
    "ConnectionDropped",
    "IllegalTransition",
    "JournalError",
    "LeaseLost",
    "LocalProtocolError",
    "ManifestError",
    "NonceReused",
    "PartLinkRefused",
    "PlatformUnreachable",
    "PosterNotSet",
    "Processing",
    "ProcessingFailed",
    "ProgrammingError",
    "RangeHeaderError",
    "RangesShrank",
    "RateLimited",
    "RemoteProtocolError",
    "RequestTimeout",
    "SegmentRejected",
    "SourceChanged",
    "SourceError",
    "SourceUnavailable",
    "StillProcessing",
    "TransportError",
    "UploadError",
    "UploadGone",
    "UploadServerBusy",
    "VerificationError",
    "VideoMissing",
    "VidliftError",
]


class VidliftError(Exception):
    """Base of every error vidlift raises on purpose."""


class ConfigError(VidliftError):
    """A setting is missing or invalid; the message names it and says what to do."""


class ManifestError(VidliftError):
    """A manifest row is unusable. ``location`` is ``file:line``."""

    def __init__(self, location: str, reason: str, *, field: str | None = None) -> None:
        self.location = location
        self.reason = reason
        self.field = field
        where = f"{location}: {field}: " if field else f"{location}: "
        super().__init__(where + reason)


class SourceError(VidliftError):
    """A source cannot be uploaded (missing, refused, unreadable, empty, changed).

    ``path`` is the source's name for messages: a file path, or ``scheme://host/path``
    (never a URL's query string, which often holds a signature).
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class SourceChanged(SourceError):
    """The source's size or identity (mtime, ETag, Last-Modified) is not what it was when
    inspected: the bytes already sent may belong to another version. Not retried."""


class JournalError(VidliftError):
    """The journal cannot be opened, read or written."""


class LeaseLost(JournalError):
    """A worker wrote to a job whose lease it no longer holds (fleet mode).

    Another worker took the job over after this one's lease expired (it was paused, cut
    off or too slow to renew): the write is refused, so that it cannot overwrite the
    successor's. The worker must drop the job, not fail it.
    """

    def __init__(self, job_id: str, worker_id: str) -> None:
        self.job_id = job_id
        self.worker_id = worker_id
        super().__init__(
            f"job {job_id}: worker {worker_id} no longer holds its lease "
            "(another worker took it over); the write was refused"
        )


class ProgrammingError(VidliftError):
    """vidlift broke one of its own rules: a bug to report, never a job's failure."""


class IllegalTransition(ProgrammingError):
    """A change to a job that its state does not allow (the job-state table says no)."""

    def __init__(self, job_id: str, event: str, state: str) -> None:
        self.job_id = job_id
        self.event = event
        self.state = state
        super().__init__(
            f"job {job_id}: '{event}' is not allowed from state '{state}' "
            "(a vidlift bug: please report it)"
        )


class LocalProtocolError(VidliftError):
    """We were about to break the protocol (a bug or a bad argument, never the server)."""


class RemoteProtocolError(VidliftError):
    """The server said something the protocol does not allow or we cannot read."""


class AnswerParseError(RemoteProtocolError):
    """A body that is malformed, unsafe (DTD, entities, pickle) or of the wrong shape."""


class RangeHeaderError(RemoteProtocolError):
    """A received-ranges answer that is garbage or inconsistent with the file."""


class TransportError(VidliftError):
    """The request failed below HTTP; it may or may not have reached the server."""


class ConnectError(TransportError):
    """The connection could not be opened; nothing was sent."""


class RequestTimeout(TransportError):
    """No (complete) answer arrived in time."""


class ConnectionDropped(TransportError):
    """The server closed the connection without an answer.

    Real upload servers do this on purpose for requests they will always refuse
    (../shared/PROTOCOL.md, "Rejections"), so it is retried a bounded number of times.
    """


class SourceUnavailable(TransportError):
    """A source's server (an HTTP origin, S3) answered 5xx or 429, or could not be
    connected to: try again later. (Not a ConnectError: that one says the *platform* is
    unreachable, which stops the batch when it lasts.)

    ``name`` is the source's name for messages (never a URL's query string).
    """

    def __init__(
        self,
        name: str,
        http_status: int | None,
        retry_after_s: float | None = None,
        *,
        reason: str = "",
    ) -> None:
        self.name = name
        self.http_status = http_status
        self.retry_after_s = retry_after_s
        status = f"HTTP {http_status}" if http_status else "an error"
        what = reason or f"the source's server answered {status}"
        super().__init__(f"{name}: {what}")


class ApiError(VidliftError):
    """The API answered ``status=error``."""

    def __init__(
        self,
        *,
        http_status: int,
        code: str,
        message: str,
        title: str = "",
        call: str = "",
    ) -> None:
        self.http_status = http_status
        self.code = code
        self.title = title
        self.message = message
        self.call = call
        where = f"{call}: " if call else ""
        super().__init__(f"{where}{http_status} {code}: {message}")


class AuthError(ApiError):
    """Credentials or signature refused (400 Signature*/Timestamp*, 403). Stops the batch.
    Its message ends with what to check (the credentials, the clock)."""

    HINT = "check the API key and secret (VIDLIFT_API_KEY, VIDLIFT_API_SECRET) and the clock"

    def __str__(self) -> str:
        return f"{super().__str__()}; {self.HINT}"


class NonceReused(ApiError):
    """400 NonceInvalid: the server saw this ``api_nonce`` within its window.

    Nonces are drawn from 10**9 values; a server that remembers every nonce of a long
    batch will, now and then, see one again by chance. The call was refused before it did
    anything, so signing it again (with a new nonce) is safe: the policy retries it.
    """


class VideoMissing(ApiError):
    """404: the platform has no video/media under this key (deleted since it was created):
    the job creates a new one, exactly once."""


class PlatformUnreachable(VidliftError):
    """The platform answered nothing for longer than ``unreachable_s``: the batch stops
    with every job left as it was, so that the next run simply goes on."""


class Processing(VidliftError):
    """About a video's processing after its upload (``--wait-ready``): its key, the
    status the platform reported and, when it failed, the platform's message."""

    def __init__(self, video_key: str, status: str, message: str | None = None) -> None:
        self.video_key = video_key
        self.status = status
        self.platform_message = message
        super().__init__(self._text())

    def _text(self) -> str:
        return f"video {self.video_key} is {self.status} on the platform"


class StillProcessing(Processing):
    """The upload is verified; the platform has not finished processing it: ask again."""


class ProcessingFailed(Processing):
    """The platform could not process the uploaded file (its status is ``failed``)."""

    def _text(self) -> str:
        reason = self.platform_message or "no reason given"
        return f"the platform failed to process video {self.video_key}: {reason}"


class PosterNotSet(VidliftError):
    """The poster from a row's ``thumbnail_download_url`` could not be set. Reported, never
    fatal: the video itself is done."""


class RateLimited(ApiError):
    """429 RateLimitExceeded. ``reset_at`` is the Unix time the quota resets, if given."""

    def __init__(self, *, reset_at: float | None = None, **kwargs: object) -> None:
        self.reset_at = reset_at
        super().__init__(**kwargs)  # type: ignore[arg-type]


class UploadError(VidliftError):
    """An upload that cannot continue as it is. Names the file and the session."""

    def __init__(self, message: str, *, path: str = "", session_id: str = "") -> None:
        self.message = message
        self.path = path
        self.session_id = session_id
        super().__init__(self._text())

    def _text(self) -> str:
        parts = [self.path, f"session {self.session_id}" if self.session_id else ""]
        prefix = ", ".join(p for p in parts if p)
        return f"{prefix}: {self.message}" if prefix else self.message

    def locate(self, path: str, session_id: str) -> None:
        """Name the file and the upload, where the raiser could not (once, by the job
        loop, on the way out)."""
        self.path = self.path or path
        self.session_id = self.session_id or session_id
        self.args = (self._text(),)


class SegmentRejected(UploadError):
    """The upload server refuses this request and always will (400/413/415/416)."""

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None,
        path: str = "",
        session_id: str = "",
        retry_after_s: float | None = None,
    ) -> None:
        self.http_status = http_status
        self.retry_after_s = retry_after_s
        super().__init__(message, path=path, session_id=session_id)


class UploadServerBusy(UploadError):
    """503 or another 5xx from the upload server: back off and probe."""

    def __init__(
        self,
        message: str,
        *,
        http_status: int,
        path: str = "",
        session_id: str = "",
        retry_after_s: float | None = None,
    ) -> None:
        self.http_status = http_status
        self.retry_after_s = retry_after_s
        super().__init__(message, path=path, session_id=session_id)


class PartLinkRefused(UploadError):
    """v2: a pre-signed part link answered 403 (expired, or its signature refused).

    Nothing was stored; listing the parts again signs fresh links.
    """


class UploadGone(UploadError):
    """v2: the platform no longer knows this upload (completed, replaced, or its direct
    link is unusable). Ask for the media's status; reopen the upload if it has no file."""


class RangesShrank(UploadError):
    """The server reports fewer bytes than it acknowledged before.

    The session was completed (and forgotten) or reset; ask the API before sending more
    (../shared/PROTOCOL.md, "After a session completes").
    """


class VerificationError(UploadError):
    """The platform's size or checksum of the uploaded file differs from the source."""
