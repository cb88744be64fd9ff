"""Fault points: named places where the fault suite kills the process, to prove nothing is lost.

``SUMMIT_WATCH_FAULT=<point>`` in the environment makes the process SIGKILL itself the first time
it reaches ``fault_point(<point>)``: no handler, no cleanup, as the OOM killer or a power cut
would. Unset (always, outside tests), a fault point is one comparison.

Points: ``poll_matched`` (a poll's new items and hits are written, not yet committed);
``poll_stored`` (committed, their stories not joined yet).
"""

import os
import signal
from typing import Final

ENVIRONMENT: Final = "SUMMIT_WATCH_FAULT"
_ARMED: Final = os.environ.get(ENVIRONMENT)


def fault_point(name: str) -> None:
    """Die here, at once, if the environment asks for it."""
    if name == _ARMED:
        os.kill(os.getpid(), signal.SIGKILL)
