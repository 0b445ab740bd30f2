"""Drives sessiongate with the official MCP Python SDK and its OAuthClientProvider.

The SDK discovers the authorization server from the 401 challenge, registers itself (RFC
7591), runs PKCE S256, and exchanges the code; the browser step is done here by submitting the
login and consent forms the way a person would. Then it calls tools, waits for the short-lived
access token to expire so that the SDK refreshes it, and calls tools again.

    python python_oauth_flow.py MCP_URL PASSWORD ROOT_DIR ACCESS_TTL_SECONDS
Exits non-zero with a message on any failure.
"""

import asyncio
import json
import sys

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from mcp_test_client import Browser, MemoryStorage, call, public_client

MCP_URL, PASSWORD, ROOT, ACCESS_TTL = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
CALLBACK = "http://127.0.0.1:33418/callback"


async def main():
    browser = Browser(PASSWORD, CALLBACK)
    storage = MemoryStorage()
    provider = public_client(MCP_URL, "MCP Python SDK test", CALLBACK, browser, storage)
    async with httpx2.AsyncClient(auth=provider, timeout=60) as http:
        async with streamable_http_client(MCP_URL, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                tools = {t.name for t in (await session.list_tools()).tools}
                assert {"create_session", "send_message", "get_logs", "search", "fetch"} <= tools, tools
                await call(session, "create_session", {"name": "py", "profile": "bash", "working_dir": ROOT})
                await call(session, "send_message", {"session": "py", "message": "echo from-python-sdk"})
                for _ in range(100):
                    if "from-python-sdk\n" in (await call(session, "get_logs", {"session": "py"})) + "\n":
                        break
                    await asyncio.sleep(0.1)
                else:
                    raise AssertionError("the message never showed up")
                first_token = storage.tokens.access_token
                # Let the access token expire: the SDK must refresh it and go on.
                await asyncio.sleep(ACCESS_TTL + 2)
                listing = await call(session, "list_sessions", {})
                assert "py" in listing, listing
                assert storage.tokens.access_token != first_token, "the token was never refreshed"
                await call(session, "terminate_session", {"session": "py"})
    print(json.dumps({"ok": True, "tokens_issued": len(storage.token_history), "client_id": storage.client.client_id}))


asyncio.run(main())
