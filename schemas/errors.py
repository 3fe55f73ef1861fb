"""The error shape every refusal shares: a machine-readable reason code and a message."""

from __future__ import annotations


class ReasonedError(ValueError):
    """Refusal with ``reason`` (a stable code such as ``identifier.citizen_id``) for DLQ
    headers and problem+json bodies; the message never carries the offending personal data."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
