"""CRUD benchmark: sqla_repo against the raw drivers, Core, hand-written ORM and advanced-alchemy.

Run from the repository root: ``python -m benchmarks.crud --help`` (or ``make bench``).
"""
