"""Who holds a claim: this process as ``host:pid``, and whether another claimant has died.

Polls and deliveries are claimed in the database for a lease, so that daemons sharing it never
do the same work twice. A claimant killed mid-work holds its claims until the lease ends, unless
it was a process of this machine that no longer exists: those claims are freed at once.
"""

import os
import socket
from typing import Final

OWNER: Final = f"{socket.gethostname()}:{os.getpid()}"


def owner_gone(owner: str) -> bool:
    """Whether ``owner`` is a process of this machine that has ended (others' we cannot know)."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False
