"""Redis URLs without their secrets, for messages and logs.

Contract: `mask_url(url)` returns the URL with any password (and a username's password part) replaced by `***`, and
leaves everything else (scheme, host, port, db, query such as `ssl_ca_certs`) as it was; text that is not a URL comes
back unchanged. Every message or log line that shows a Redis URL goes through it. It knows nothing about Redis.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

MASK = "***"


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
