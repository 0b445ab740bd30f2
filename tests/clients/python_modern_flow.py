"""Drives sessiongate as a client of the 2026-07-28 MCP revision: the official MCP Python SDK's
`Client` (mode "auto": it probes `server/discover` and speaks the stateless revision when the
server offers it), authorized by the SDK's OAuthClientProvider (the browser step submits the
login and consent forms as python_oauth_flow.py does).

It lists the tools, creates a session, sends it a message, reads the screen, then opens a
`subscriptions/listen` stream for the session's resource: after the stream's first update (sent
at once), reading the resource shows the session running; then it ends the session's shell, and
the stream must deliver `notifications/resources/updated` again, after which reading the
resource says the session exited. Every HTTP exchange is recorded to check that the new revision was
really spoken: no `initialize`, no `Mcp-Session-Id`, every request stamped 2026-07-28 in its
`_meta` and with an `Mcp-Method` header that names its method.

    python python_modern_flow.py MCP_URL PASSWORD ROOT_DIR
Prints one JSON line; exits non-zero with a message on any failure.
"""

import asyncio
import json
import sys
import time

import anyio
import httpx2
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.client.subscriptions import ResourceUpdated

from mcp_test_client import Browser, MemoryStorage, call, public_client

MCP_URL, PASSWORD, ROOT = sys.argv[1], sys.argv[2], sys.argv[3]
CALLBACK = "http://127.0.0.1:33419/callback"
REVISION = "2026-07-28"
SESSION = "modern"
URI = f"sessions://{SESSION}"


class Wire:
    """What went over HTTP to the MCP endpoint: each POST's JSON-RPC method, headers and
    `_meta` protocol version, and whether any response named an MCP session."""

    def __init__(self):
        self.posts = []
        self.session_ids = []

    async def on_request(self, request: httpx2.Request):
        if request.method != "POST" or not str(request.url).startswith(MCP_URL):
            return
        try:
            body = json.loads(request.content)
        except Exception:
            return
        params = body.get("params") or {}
        self.posts.append(
            {
                "method": body.get("method"),
                "mcp_method": request.headers.get("mcp-method"),
                "header_version": request.headers.get("mcp-protocol-version"),
                "meta_version": (params.get("_meta") or {}).get("io.modelcontextprotocol/protocolVersion"),
            }
        )

    async def on_response(self, response: httpx2.Response):
        if str(response.request.url).startswith(MCP_URL) and "mcp-session-id" in response.headers:
            self.session_ids.append(response.headers["mcp-session-id"])


async def read(client: Client, uri: str) -> str:
    """A resource's text."""
    return "".join(getattr(c, "text", "") for c in (await client.read_resource(uri)).contents)


async def main():
    t0 = time.monotonic()
    marks = {}
    browser = Browser(PASSWORD, CALLBACK)
    storage = MemoryStorage()
    provider = public_client(MCP_URL, "MCP Python SDK 2026-07-28 test", CALLBACK, browser, storage)
    wire = Wire()
    hooks = {"request": [wire.on_request], "response": [wire.on_response]}
    async with httpx2.AsyncClient(auth=provider, timeout=60, event_hooks=hooks) as http:
        transport = streamable_http_client(MCP_URL, http_client=http)
        async with Client(transport, mode="auto") as client:
            assert client.protocol_version == REVISION, client.protocol_version
            tools = {t.name for t in (await client.list_tools()).tools}
            assert {"create_session", "send_message", "get_logs"} <= tools, tools
            await call(client, "create_session", {"name": SESSION, "profile": "bash", "working_dir": ROOT})
            await call(client, "send_message", {"session": SESSION, "message": "echo from-modern-client"})
            for _ in range(100):
                if "from-modern-client\n" in (await call(client, "get_logs", {"session": SESSION})) + "\n":
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the message never showed up")

            marks["tools_called_s"] = round(time.monotonic() - t0, 2)
            updates = 0
            async with client.listen(resource_subscriptions=[URI]) as sub:
                assert sub.honored.resource_subscriptions == [URI], sub.honored
                with anyio.fail_after(60):
                    # The first update comes at once: from then on no change is missed.
                    event = await anext(sub)
                    assert isinstance(event, ResourceUpdated) and event.uri == URI, event
                    assert "State: exited" not in await read(client, URI)
                    await call(client, "send_message", {"session": SESSION, "message": "exit"})
                    # Each later update says "read me again"; the shell exits soon.
                    async for event in sub:
                        assert isinstance(event, ResourceUpdated) and event.uri == URI, event
                        updates += 1
                        if "State: exited" in await read(client, URI):
                            marks["exit_heard_s"] = round(time.monotonic() - t0, 2)
                            break
                    else:
                        raise AssertionError("the listen stream ended before the session exited")
            marks["listen_closed_s"] = round(time.monotonic() - t0, 2)
            await call(client, "terminate_session", {"session": SESSION})
    marks["done_s"] = round(time.monotonic() - t0, 2)

    methods = [p["method"] for p in wire.posts]
    assert "initialize" not in methods, methods
    assert methods[0] == "server/discover", methods
    assert "subscriptions/listen" in methods, methods
    assert not wire.session_ids, f"the gateway opened an MCP session: {wire.session_ids}"
    for p in wire.posts:
        if p["method"] is None or p["method"].startswith("notifications/"):
            continue
        assert p["mcp_method"] == p["method"], p
        assert p["meta_version"] == REVISION, p
    print(
        json.dumps(
            {
                "ok": True,
                "protocol_version": REVISION,
                "methods": sorted(set(methods)),
                "updates": updates,
                "tokens_issued": len(storage.token_history),
                "seconds": marks,
            }
        )
    )


asyncio.run(main())
