"""Errors a user can cause and fix; the CLI prints them as one `Error: ...` line."""


class MlkitError(Exception):
    """Base class: the message says what happened, what was expected and how to fix it."""

    def __str__(self) -> str:
        # One line, always: grading scripts read stderr line by line.
        return " ".join(super().__str__().split())


class DataError(MlkitError):
    """A dataset cannot be found, read or is not what was expected."""


class ModelError(MlkitError):
    """A saved model cannot be loaded or does not fit the task."""


class ConfigError(MlkitError):
    """An option value that no run can use (bad range, bad combination)."""
