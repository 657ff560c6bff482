"""The one exception type for mistakes a user can fix, and the small helpers its messages share.

Raised before any work starts, with one sentence that says what to do. The CLI prints it
as a single line (no traceback) and exits 2; notebooks show it as-is. Any other exception is a bug
in the kit: the CLI keeps its traceback, says so, and exits 1.
"""


class UserError(ValueError):
    """A bad name, value, path or checkpoint; the message says how to fix it."""


class DataNotFound(UserError, FileNotFoundError):
    """A data set's files are not where they were looked for (also a ``FileNotFoundError``); the
    message says where to put them."""


def flag(name: str) -> str:
    """How the CLI spells a config field or method option: ``per_class`` -> ``--per-class``."""
    return "--" + name.replace("_", "-")


def is_whole(value) -> bool:
    """An int that is not a bool (``True`` is not a batch size)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_real(value) -> bool:
    """An int or a float that is not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)
