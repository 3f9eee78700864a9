"""Prefect flows, I/O, publishing and the `sop` command line: the shell around the pure core."""
