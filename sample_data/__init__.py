"""Seeded generator of realistic S&OP input tables (demo, tests, benchmarks)."""

from sample_data.generate import World, generate_world, tables_a_month_earlier

__all__ = ["World", "generate_world", "tables_a_month_earlier"]
