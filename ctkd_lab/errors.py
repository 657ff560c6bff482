"""The one exception type for mistakes a user can fix.

Raised before any work starts, with one sentence that says what to do. The CLI prints it
as a single line (no traceback) and exits non-zero; notebooks show it as-is.
"""


class UserError(ValueError):
    """A bad name, value, path or checkpoint; the message says how to fix it."""
