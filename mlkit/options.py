"""Parsing the comma-separated lists that command options take (`--depths 1,2,3`)."""

from collections.abc import Callable

from .errors import ConfigError


def parse_list(text: str, cast: Callable = str, option: str = "option") -> tuple:
    """'1, 2,3' -> (1, 2, 3); empty items are skipped.

    Raises:
        ConfigError: an item that `cast` rejects, naming the option.
    """
    try:
        return tuple(cast(item.strip()) for item in text.split(",") if item.strip())
    except ValueError as error:
        raise ConfigError(f"{option} takes a comma-separated list, got {text!r}.") from error
