"""Conduit, the RealWorld API backend, on sqla_repo: see README.md beside this file."""
