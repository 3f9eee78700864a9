"""Data contracts: pandera schemas, cross-table rules and quality suites for every table."""
