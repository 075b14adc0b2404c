"""Database URLs: parsed and checked against the supported backends, never echoed whole."""

from __future__ import annotations

from sqlalchemy import exc
from sqlalchemy.engine import URL, make_url

from ._backends import SUPPORTED_URLS, Backend, find_backend


def parse_url(url: str | URL) -> tuple[URL, Backend]:
    """The URL and its backend row; ``ValueError`` listing the supported ones otherwise.

    No message shows the password (a string that is not a URL is not shown at all).
    """
    supported = ", ".join(SUPPORTED_URLS)
    if isinstance(url, URL):
        parsed = url
    elif isinstance(url, str):
        try:
            parsed = make_url(url)
        except (exc.ArgumentError, ValueError):
            # never echo the input: it may hold a password
            raise ValueError(
                f"not a database URL; expected 'backend+driver://...' with one of: {supported}"
            ) from None
    else:
        raise TypeError(f"url must be a str or sqlalchemy.engine.URL, not {type(url).__name__}")
    shown = parsed.render_as_string(hide_password=True)
    name, _, driver = parsed.drivername.partition("+")
    backend = find_backend(name)
    if backend is None:
        raise ValueError(
            f"unsupported database URL {shown!r}: unknown backend {name!r}; "
            f"supported async backends+drivers: {supported}"
        )
    if driver not in backend.drivers:
        problem = f"driver {driver!r} has no asyncio support" if driver else "no async driver given"
        raise ValueError(
            f"unsupported database URL {shown!r}: {problem}; "
            f"supported async backends+drivers: {supported}"
        )
    return parsed, backend


def shown(url: URL) -> str:
    """The URL as it may be printed: the password as ``***``."""
    return url.render_as_string(hide_password=True)
