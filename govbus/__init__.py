"""govbus: an event-driven data-sharing bus between government departments."""

__version__ = "0.1.0"
