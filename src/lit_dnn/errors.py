"""Errors a user can fix: they are printed as one sentence, never as a traceback."""


def first_line(err: BaseException) -> str:
    """An error's first line, or its type's name when it says nothing."""
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


class UserError(Exception):
    """Something in the config, the data or a file that the user must fix (exit code 2)."""


class ConfigError(UserError, ValueError):
    """A config value is outside what is allowed."""


class DataError(UserError):
    """A data file is missing, truncated or inconsistent."""


class CheckpointError(UserError):
    """A checkpoint cannot be read or does not fit the model."""


class NonFiniteLossError(UserError):
    """Training produced a NaN or infinite loss (lower the learning rate or check the data)."""


class Stopped(Exception):
    """A signal ended the run outside Lightning's handling; the message says how to resume."""
