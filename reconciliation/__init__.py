"""Consensus and capacity planning: pure functions on DataFrames."""
