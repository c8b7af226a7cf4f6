"""A size limit on request bodies, enforced while they stream in: a 413 before a too-large upload is read further.

A body whose announced ``Content-Length`` is over the limit is refused without reading any of it; one sent without
it (chunked) is counted as it arrives and refused at the first chunk past the limit, so neither is ever held whole.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class TooLarge(HTTPException):
    """A request body over the limit (an ``HTTPException``, so FastAPI's body parsing passes it on as it is)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"The upload is larger than this server's limit of {max_bytes / 2**20:,.1f} MiB.")


class UploadLimit:
    """ASGI middleware answering 413 ``{"detail": ...}`` to a request whose body is over ``max_bytes``.

    Parameters
    ----------
    app
        The application to protect.
    max_bytes
        Largest body accepted, in bytes (a file and its multipart framing).
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on with a ``receive`` that counts the body; answer 413 when it is over the limit."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        announced = dict(scope["headers"]).get(b"content-length", b"")
        if announced.isdigit() and int(announced) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received, started = 0, False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise TooLarge(self.max_bytes)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except TooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = TooLarge(self.max_bytes)
        await JSONResponse({"detail": error.detail}, status_code=413)(scope, receive, send)
