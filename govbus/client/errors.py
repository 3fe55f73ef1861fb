"""What the subscriber SDK raises: one root, a permanent refusal and a transient failure."""

from __future__ import annotations

from typing import Any

from govbus.errors import GovbusError


class ClientError(GovbusError):
    """Root of the subscriber SDK's errors."""


class RefusedError(ClientError):
    """The gateway refused for good (bad key, no grant, bad cursor): retrying cannot help.
    ``problem`` is its problem+json body."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(f"gateway answered {status}: {problem.get('detail') or problem}")
        self.status = status
        self.problem = problem


class UnavailableError(ClientError):
    """A failure worth retrying (429, 5xx, the network); ``retry_after_s`` is the server's
    ``Retry-After`` when it sent one."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
