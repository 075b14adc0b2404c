"""Read sessions of a ``Cluster`` over a PostgreSQL primary and two hot standbys.

See ``__main__`` (``python -m benchmarks.replicas``).
"""
