"""The server's guard: Host allowlist, token, Origin check and security headers, as one ASGI middleware.

Order of checks for every HTTP request:
1. the Host header must name this server (127.0.0.1, localhost, [::1] or the bound host, with its port):
   else 403, which defeats DNS rebinding;
2. `?token=` equal to the token sets an HttpOnly SameSite=Strict cookie and redirects to the same URL
   without it (so the token leaves the address bar and the history);
3. every other request needs `Authorization: Bearer <token>` or that cookie: else 401;
4. a request that can change state (not GET/HEAD) must carry an Origin of this server; a request
   authenticated by the bearer header (a script, not a browser riding on a cookie) may omit it: else 403.
Every response gets a CSP that allows only the server itself, nosniff, no framing and no referrer. No
CORS headers are ever sent, so other sites' pages cannot read anything.
"""

from __future__ import annotations

import secrets
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode

COOKIE = "pinnviz_token"
SAFE_METHODS = {"GET", "HEAD"}
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
LOCAL_NAMES = ("127.0.0.1", "localhost", "[::1]")


def allowed_hosts(host: str, port: int) -> set[str]:
    """Host header values that name this server."""
    names = set(LOCAL_NAMES)
    if host not in ("0.0.0.0", "::", ""):
        names.add(f"[{host}]" if ":" in host and not host.startswith("[") else host)
    return {f"{name}:{port}" for name in names} | ({*names} if port == 80 else set())


class Guard:
    """ASGI middleware enforcing the checks above around `app`."""

    def __init__(self, app, *, token: str, hosts: set[str]) -> None:
        self.app = app
        self.token = token
        self.hosts = {h.lower() for h in hosts}
        self.origins = {f"http://{h}" for h in self.hosts}

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if headers.get("host", "").lower() not in self.hosts:
            return await self._plain(scope, send, 403, "forbidden: this server answers only to its own address")
        if scope["type"] == "websocket":
            return await self._plain(scope, send, 403, "forbidden")
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if "token" in query and self._matches(query["token"]):
            rest = urlencode([(k, v) for k, v in query.items() if k != "token"])
            location = scope["path"] + (f"?{rest}" if rest else "")
            cookie = f"{COOKIE}={self.token}; HttpOnly; SameSite=Strict; Path=/"
            return await self._respond(send, 303, b"", [(b"location", location.encode()),
                                                        (b"set-cookie", cookie.encode())])
        bearer = headers.get("authorization", "")
        by_header = bearer.lower().startswith("bearer ") and self._matches(bearer[7:].strip())
        by_cookie = self._matches(_cookie(headers.get("cookie", "")))
        if not (by_header or by_cookie):
            return await self._plain(scope, send, 401, "unauthorized: open the URL with the token that "
                                                       "`pinnviz serve` printed")
        if scope["method"] not in SAFE_METHODS:
            origin = headers.get("origin")
            if (origin is None and not by_header) or (origin is not None and origin.lower() not in self.origins):
                return await self._plain(scope, send, 403, "forbidden: cross-origin request")

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        return await self.app(scope, receive, send_with_headers)

    def _matches(self, candidate: str | None) -> bool:
        return bool(candidate) and secrets.compare_digest(candidate.encode(), self.token.encode())

    async def _plain(self, scope, send, status: int, text: str):
        return await self._respond(send, status, text.encode(), [(b"content-type", b"text/plain; charset=utf-8")])

    async def _respond(self, send, status: int, body: bytes, headers: list):
        await send({"type": "http.response.start", "status": status,
                    "headers": [*headers, (b"content-length", str(len(body)).encode()), *HEADERS]})
        await send({"type": "http.response.body", "body": body})


def _cookie(text: str) -> str | None:
    try:
        jar = SimpleCookie(text)
    except Exception:  # a malformed Cookie header is simply no cookie
        return None
    return jar[COOKIE].value if COOKIE in jar else None


def new_token() -> str:
    return secrets.token_urlsafe(24)
