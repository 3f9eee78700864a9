"""Seeded generator of realistic S&OP input tables (demo, tests, benchmarks)."""

from sample_data.generate import World, generate_world

__all__ = ["World", "generate_world"]
