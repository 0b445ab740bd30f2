"""Drives sessiongate with the official MCP Python SDK, signing in through an upstream
OpenID Connect provider (tests/clients/oidc_provider.mjs).

The SDK discovers sessiongate's authorization server from the 401 challenge, registers itself,
runs PKCE S256 and exchanges the code. The browser step is done here like a person would:
sessiongate's login page → "Sign in with <provider>" → the provider's login form → back to
sessiongate's callback → sessiongate's consent page → approve. Then it calls tools.

    python python_idp_flow.py MCP_URL PROVIDER LOGIN PASSWORD ROOT_DIR
Prints a JSON report (with the access token's `sub`); exits non-zero on any failure.
"""

import asyncio
import base64
import json
import re
import sys
from urllib.parse import parse_qs, urljoin, urlparse

import httpx2
from mcp import ClientSession
from mcp.client.auth import AuthorizationCodeResult
from mcp.client.streamable_http import streamable_http_client

from mcp_test_client import MemoryStorage, call, form_fields, public_client

MCP_URL, PROVIDER, LOGIN, PASSWORD, ROOT = sys.argv[1:6]
CALLBACK = "http://127.0.0.1:33419/callback"


class Browser:
    """The person's browser: one cookie jar for both sites, redirects followed by hand."""

    def __init__(self):
        self.result = None

    async def follow(self, b, resp):
        while resp.status_code in (302, 303) and not resp.headers["location"].startswith(CALLBACK):
            resp = await b.get(urljoin(str(resp.url), resp.headers["location"]))
        return resp

    async def visit(self, authorization_url: str):
        async with httpx2.AsyncClient(follow_redirects=False) as b:
            page = await b.get(authorization_url)
            assert page.status_code == 200, f"authorize page: {page.status_code} {page.text[:300]}"
            assert f'name="provider" value="{PROVIDER}"' in page.text, page.text[:600]
            at_idp = await self.follow(
                b,
                await b.post(
                    urljoin(authorization_url, "/authorize/upstream"),
                    data={**form_fields(page.text), "provider": PROVIDER},
                ),
            )
            assert at_idp.status_code == 200 and "/interaction/" in str(at_idp.url), at_idp.text[:300]
            action = re.search(r'<form method="post" action="([^"]+)"', at_idp.text).group(1)
            consent = await self.follow(
                b,
                await b.post(urljoin(str(at_idp.url), action), data={"login": LOGIN, "password": PASSWORD}),
            )
            assert consent.status_code == 200 and "Allow access?" in consent.text, consent.text[:500]
            done = await b.post(
                urljoin(authorization_url, "/authorize/consent"),
                data={**form_fields(consent.text), "decision": "approve"},
            )
            assert done.status_code == 303, f"consent: {done.status_code} {done.text[:300]}"
            location = done.headers["location"]
            assert location.startswith(CALLBACK), location
            q = parse_qs(urlparse(location).query)
            self.result = AuthorizationCodeResult(
                code=q["code"][0], state=q.get("state", [None])[0], iss=q.get("iss", [None])[0]
            )

    async def callback(self) -> AuthorizationCodeResult:
        return self.result


async def main():
    browser = Browser()
    storage = MemoryStorage()
    provider = public_client(MCP_URL, "MCP Python SDK via an identity provider", CALLBACK, browser, storage)
    async with httpx2.AsyncClient(auth=provider, timeout=60) as http:
        async with streamable_http_client(MCP_URL, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                await call(session, "create_session", {"name": "idp", "profile": "bash", "working_dir": ROOT})
                await call(session, "send_message", {"session": "idp", "message": "echo via-upstream-login"})
                for _ in range(100):
                    if "via-upstream-login\n" in (await call(session, "get_logs", {"session": "idp"})) + "\n":
                        break
                    await asyncio.sleep(0.1)
                else:
                    raise AssertionError("the message never showed up")
                await call(session, "terminate_session", {"session": "idp"})
    payload = storage.tokens.access_token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    print(json.dumps({"ok": True, "sub": claims["sub"], "client_id": storage.client.client_id}))


asyncio.run(main())
