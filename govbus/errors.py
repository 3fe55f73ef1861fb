"""The one error family govbus raises for problems a user can fix."""


class GovbusError(Exception):
    """A problem with a clear, user-facing message (bad config, missing tool, port taken)."""


class ConfigError(GovbusError):
    """Settings are invalid or incomplete."""


class ServiceUnavailableError(GovbusError):
    """A required service (Kafka, Redis, PostgreSQL) cannot be reached or started."""
