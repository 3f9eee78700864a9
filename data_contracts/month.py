"""The `YYYY-MM` month format itself, with nothing but `re`: cheap enough for argument parsing."""

import re

# The longest horizons, in months: a plan (the flow's form, `sop run`, `sop generate`) and
# baselines on their own (`sop forecast`).
MAX_HORIZON = 60
MAX_FORECAST_HORIZON = 120

# Anchored: a cycle becomes part of paths and SQL, so nothing else may pass.
# Years 1900-2199: a sane calendar window for inputs and cycles (pandas timestamps end in 2262,
# and MAX_FORECAST_HORIZON months after the last cycle must still fit); published periods may
# reach into 22xx.
FIRST_YEAR, LAST_YEAR = 1900, 2199
MONTH_PATTERN = re.compile(r"^(19|20|21)\d{2}-(0[1-9]|1[0-2])$")
OUTPUT_MONTH_PATTERN = re.compile(r"^(19|2[0-2])\d{2}-(0[1-9]|1[0-2])$")


def is_month(value: object) -> bool:
    """True when value is a `YYYY-MM` string of a year FIRST_YEAR..LAST_YEAR."""
    return isinstance(value, str) and bool(MONTH_PATTERN.match(value))
