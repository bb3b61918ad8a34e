"""The error tree. Every error a user can cause is a `LabelportError` with a message that says
what was wrong, where (file, line, JSON path, item or format) and what was expected; the CLI and
the API turn these into one line or a 4xx, never a traceback."""


class LabelportError(Exception):
    """Base of every error caused by input, configuration or a request (not by a bug)."""


class InputError(LabelportError):
    """A file or value given to labelport is malformed or inconsistent."""


class NotFoundError(LabelportError):
    """A named thing (project, format, dataset, ...) does not exist."""


class ConflictError(LabelportError):
    """The request clashes with what is stored (a name taken, a class still in use)."""


class UnsupportedError(LabelportError):
    """The request asks a format for something it cannot carry."""


class NotAllowedError(LabelportError):
    """The request names a place the service's operator does not allow (a delivery
    destination, a webhook URL)."""


def unknown(kind: str, name: str, valid: list[str] | tuple[str, ...]) -> NotFoundError:
    """A `NotFoundError` that lists the valid choices, so the user can correct the name."""
    choices = ", ".join(valid) if valid else "none yet"
    return NotFoundError(f"unknown {kind} {name!r}; valid {kind}s: {choices}")
