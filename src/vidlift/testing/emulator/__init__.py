"""A faithful local JW Platform: the signed v1 API and the resumable upload server (part
of the public test kit, :mod:`vidlift.testing`).

::

    async with Emulator(EmulatorConfig()) as emu:
        emu.endpoint      # "http://127.0.0.1:PORT", the API base
        emu.videos()      # what the platform holds

It formats its answers and checks signatures with its own code, never with
:mod:`vidlift.protocol` or :mod:`vidlift.client`, so that a bug on one side is not hidden
by the same bug on the other. Rules, status codes and faults: docs/EMULATOR.md.

Layer: testing.emulator; may import: config, errors.
"""

from __future__ import annotations

from vidlift.testing.emulator.config import EmulatorConfig, FaultPlan, load_fault_plan
from vidlift.testing.emulator.context import RequestLog
from vidlift.testing.emulator.faults import FaultKind
from vidlift.testing.emulator.server import Emulator, run_forever
from vidlift.testing.emulator.store import VideoRecord, VideoStatus

__all__ = [
    "Emulator",
    "EmulatorConfig",
    "FaultKind",
    "FaultPlan",
    "RequestLog",
    "VideoRecord",
    "VideoStatus",
    "load_fault_plan",
    "run_forever",
]
