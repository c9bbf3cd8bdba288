"""Text from a file (a checkpoint's class names, a table's labels, file names), made safe where it is shown."""

from typing import Any

# a spreadsheet runs a cell that begins with one of these as a formula (OWASP, "CSV injection")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def printable(text: str) -> str:
    """``text`` with every character a terminal would act on (escape sequences, bidi overrides,
    line breaks) written as its Python escape, e.g. ``\\x1b``: it can no longer recolour, retitle or
    rewrite what the terminal shows."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in str(text))


def csv_cell(value: Any) -> Any:
    """A value a spreadsheet or terminal shows as written: text is made ``printable`` (a ``cat`` of
    the file runs no escape sequence), and text that begins like a formula gets a leading
    apostrophe; numbers (``-0.5``) stay as they are."""
    if not isinstance(value, str):
        return value
    value = printable(value)
    if not value.startswith(FORMULA_START):
        return value
    try:
        float(value)
        return value
    except ValueError:
        return "'" + value
