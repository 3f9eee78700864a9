"""Reproducible benchmarks of the pipeline's cores (run as `python -m benchmarks.<name>`)."""
