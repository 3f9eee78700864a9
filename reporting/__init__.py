"""The S&OP meeting pack: a self-contained HTML report built from the plan tables."""

from reporting.html import render_report
from reporting.markdown import render_markdown_summary

__all__ = ["render_markdown_summary", "render_report"]
