"""Seeded generator of realistic S&OP input tables (demo, tests, benchmarks)."""
