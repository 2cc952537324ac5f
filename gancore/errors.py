"""Errors a user can act on.

The CLI prints any :class:`GanError` as a one-paragraph message and exits
non-zero, without a traceback. Everything else is a bug and keeps its
traceback.
"""


class GanError(Exception):
    """Base class: the message is written for the person at the terminal."""


class ConfigError(GanError):
    """A configuration value or key is invalid."""


class PluginError(GanError):
    """A plugin is unknown, broken, ambiguous or breaks the hook contract."""


class DataError(GanError):
    """Data is missing, unreadable or inconsistent."""


class CheckpointError(GanError):
    """A checkpoint is missing, corrupt or does not fit the run."""


class TrainingError(GanError):
    """Training cannot go on (for example a non-finite loss)."""
