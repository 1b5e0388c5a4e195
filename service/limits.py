"""A plain ASGI middleware capping request bodies: larger ones get 413 before any route reads them.

Contract: a request whose Content-Length exceeds `max_bytes` is answered 413 at once; a body streamed without a
length is counted as it arrives and cut off with 413 once it exceeds the cap (if no response has started). The 413
body names the field ("body") and the size. It knows nothing about routes.
"""

from __future__ import annotations

import orjson

from service.metrics import ASGIApp, Message, Receive, Scope, Send


class BodyTooLargeError(Exception):
    pass


async def _reject(send: Send, size: int | str, cap: int) -> None:
    problem = {"field": "body", "value": size, "message": f"request body exceeds {cap} bytes", "loc": ["body"]}
    body = orjson.dumps({"detail": [problem]})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        cap = self.max_bytes
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > cap:
                await _reject(send, int(value), cap)
                return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    raise BodyTooLargeError
            return message

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watch)
        except BodyTooLargeError:
            if not started:
                await _reject(send, f">{cap}", cap)
