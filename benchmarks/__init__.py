"""Benchmarks of sqla_repo; run ``python -m benchmarks.crud`` from the repository root."""
