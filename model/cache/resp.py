"""Redis commands packed as RESP bytes by hand, for the two places where redis-py's per-command packing costs more
than the command: the refresh job's batched SETs and the service's one-round-trip read.

Contract: `command(*parts)` is one command as a RESP array of bulk strings (`*<n>\\r\\n` then `$<len>\\r\\n<part>\\r\\n`
per part), byte for byte what redis-py sends for the same arguments; concatenated commands form a pipeline. Parts
are bytes already (keys encoded by the caller). It knows nothing about keys or replies.
"""

from __future__ import annotations


def command(*parts: bytes) -> bytes:
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%b\r\n" % (len(part), part) for part in parts)
