"""Errors a user can cause and fix; the CLI prints them as one `Error: ...` line."""


class MlkitError(Exception):
    """Base class: the message says what happened, what was expected and how to fix it."""

    def __str__(self) -> str:
        # One line, always: grading scripts read stderr line by line.
        return " ".join(super().__str__().split())


def first_line(error: BaseException) -> str:
    """The first line of another library's error message (its type when it has none), to quote
    inside an MlkitError's one-line message."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


class DataError(MlkitError):
    """A dataset cannot be found, read or is not what was expected."""


class ModelError(MlkitError):
    """A saved model cannot be loaded or does not fit the task."""


class ConfigError(MlkitError):
    """An option value that no run can use (bad range, bad combination)."""
