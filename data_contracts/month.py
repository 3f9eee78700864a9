"""The `YYYY-MM` month format itself, with nothing but `re`: cheap enough for argument parsing."""

import re

# Anchored: a cycle becomes part of paths and SQL, so nothing else may pass.
MONTH_PATTERN = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def is_month(value: object) -> bool:
    """True when value is a `YYYY-MM` string."""
    return isinstance(value, str) and bool(MONTH_PATTERN.match(value))
