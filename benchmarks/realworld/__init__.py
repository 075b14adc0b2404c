"""RealWorld benchmark: the Conduit example served by uvicorn, measured over HTTP.

Run from the repository root: ``python -m benchmarks.realworld --help`` (or
``make bench-realworld``).
"""

STATEMENTS_PATH = "/_bench/statements"
"""The route, served by ``_server.py`` only, that returns the statements sent so far."""
