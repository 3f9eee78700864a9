"""Prefect flows, I/O, publishing and the `sop` command line: the thin shell around the pure core."""
