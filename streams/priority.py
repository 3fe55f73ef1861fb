"""Real-time first: the bulk lane's runner steps aside while the real-time lane has work.

Both lanes' runners share one worker process (and so one interpreter lock and one or two
cores). The real-time runner *holds* the priority from the moment it reads a batch until
that batch's commits are done; the bulk runner waits for it to be free before reading its
next batch -- at most ``max_wait_s``, so a busy real-time lane slows bulk loading down but
never stops it. A bulk batch already being decided is not interrupted: bulk batches stay
small enough (GOVBUS_BULK_BATCH_SIZE) for that to cost a real-time event little.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future


class Priority:
    def __init__(self, max_wait_s: float = 0.5) -> None:
        self.max_wait_s = max_wait_s
        self._held = 0
        self._free = threading.Condition()

    def hold(self) -> None:
        with self._free:
            self._held += 1

    def release(self) -> None:
        with self._free:
            self._held -= 1
            if self._held <= 0:
                self._held = 0
                self._free.notify_all()

    def hold_until_done(self, future: Future[None]) -> None:
        """Held until ``future`` (a commit) finishes, however it finishes."""
        self.hold()
        future.add_done_callback(lambda _: self.release())

    @property
    def held(self) -> bool:
        with self._free:
            return self._held > 0

    def wait_free(self) -> bool:
        """Block while held, at most ``max_wait_s``; True if it is free now."""
        with self._free:
            return self._free.wait_for(lambda: self._held == 0, self.max_wait_s)
