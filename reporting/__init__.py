"""The S&OP meeting pack: a self-contained HTML report built from the plan tables."""
