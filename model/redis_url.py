"""Redis URLs: which schemes are accepted, how a cluster URL names its nodes, and the URL without its secrets.

Contract: `check_redis_url(url)` returns the URL when its scheme is one of `REDIS_SCHEMES` (and, for a cluster URL,
when `parse_cluster_url` accepts it), else raises ValueError naming it (masked). `redis+cluster://` selects a Redis
Cluster: `redis+cluster://[user:password@]host:port[,host:port...]` names one or more seed nodes (any master or
replica; the client learns the rest from the cluster), no database number (a cluster has only db 0).
`parse_cluster_url(url)` returns them as a `ClusterUrl` or raises ValueError naming the URL and the bad part;
`is_cluster_url(url)` says which kind a checked URL is. `mask_url(url)` returns the URL with any password (and a
username's password part) replaced by `***`, and leaves everything else (scheme, host, port, db, query such as
`ssl_ca_certs`) as it was; text that is not a URL comes back unchanged. Every message or log line that shows a Redis
URL goes through it. It knows nothing about Redis: it connects to nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

MASK = "***"
CLUSTER_SCHEME = "redis+cluster://"
REDIS_SCHEMES = ("redis://", "rediss://", CLUSTER_SCHEME, "unix://")


@dataclass(frozen=True, slots=True)
class ClusterUrl:
    """The seed nodes of a Redis Cluster and its credentials."""

    nodes: tuple[tuple[str, int], ...]  # (host, port) of each seed node, in the URL's order
    username: str | None = None
    password: str | None = None


def check_redis_url(url: str) -> str:
    if not url.startswith(REDIS_SCHEMES):
        raise ValueError(f"redis_url {mask_url(url)!r} must start with {', '.join(REDIS_SCHEMES[:-1])} or unix://")
    if is_cluster_url(url):
        parse_cluster_url(url)
    return url


def is_cluster_url(url: str) -> bool:
    return url.startswith(CLUSTER_SCHEME)


def parse_cluster_url(url: str) -> ClusterUrl:
    if not is_cluster_url(url):
        raise ValueError(f"redis_url {mask_url(url)!r} is not a cluster URL: it must start with {CLUSTER_SCHEME}")
    rest = url[len(CLUSTER_SCHEME) :]
    username = password = None
    if "@" in rest:
        auth, rest = rest.rsplit("@", 1)
        user, sep, secret = auth.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if sep else None
    if "?" in rest or "#" in rest:
        raise ValueError(f"redis_url {mask_url(url)!r}: a cluster URL takes no query or fragment")
    rest = rest.rstrip("/")
    if "/" in rest:
        raise ValueError(f"redis_url {mask_url(url)!r}: a cluster URL takes no database number (a cluster has db 0)")
    nodes = []
    for part in rest.split(","):
        host, sep, port = part.strip().rpartition(":")
        host = host.strip("[]")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(
                f"redis_url {mask_url(url)!r}: node {part.strip()!r} is not host:port "
                "(redis+cluster://host:port[,host:port...])"
            )
        nodes.append((host, int(port)))
    return ClusterUrl(tuple(nodes), username, password)


def mask_url(url: str) -> str:
    if is_cluster_url(url):  # urlsplit cannot read a comma-separated host list
        head, at, tail = url[len(CLUSTER_SCHEME) :].rpartition("@")
        if not at or ":" not in head:
            return url
        return f"{CLUSTER_SCHEME}{head.partition(':')[0]}:{MASK}@{tail}"
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
