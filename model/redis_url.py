"""Redis URLs: which schemes are accepted, and the URL without its secrets, for messages and logs.

Contract: `check_redis_url(url)` returns the URL when its scheme is one of `REDIS_SCHEMES`, else raises ValueError
naming it (masked). `mask_url(url)` returns the URL with any password (and a username's password part) replaced by
`***`, and leaves everything else (scheme, host, port, db, query such as `ssl_ca_certs`) as it was; text that is not a
URL comes back unchanged. Every message or log line that shows a Redis URL goes through it. It knows nothing about
Redis.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

MASK = "***"
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def check_redis_url(url: str) -> str:
    if not url.startswith(REDIS_SCHEMES):
        raise ValueError(f"redis_url {mask_url(url)!r} must start with {', '.join(REDIS_SCHEMES[:-1])} or unix://")
    return url


def mask_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:  # not a URL we can take apart: show nothing that might hold a secret
        return url if "@" not in url else MASK
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    user = parts.username or ""
    return urlunsplit((parts.scheme, f"{user}:{MASK}@{host}{port}", parts.path, parts.query, parts.fragment))
