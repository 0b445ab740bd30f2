"""What the Python SDK test clients share: in-memory token storage, reading the hidden
fields and the action of sessiongate's HTML forms as a browser would, and a tool call that
fails loudly; the owner's browser through sessiongate's own login and consent; the SDK's
OAuth provider registered as a public client that signs in through such a browser. Imported by
python_oauth_flow.py, python_modern_flow.py and python_idp_flow.py (same folder)."""

import re
from urllib.parse import parse_qs, urljoin, urlparse

import httpx2
from mcp import ClientSession
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider, TokenStorage
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken


class MemoryStorage(TokenStorage):
    """Tokens and the registered client, in memory; every access token seen, in order."""

    def __init__(self):
        self.tokens = None
        self.client = None
        self.token_history = []

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken):
        self.tokens = tokens
        self.token_history.append(tokens.access_token)

    async def get_client_info(self):
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull):
        self.client = client_info


def form_fields(html: str) -> dict:
    """The hidden fields of a page's forms."""
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))


def form_action(html: str, page_url: str) -> str:
    """Where the page's (first) form posts to, as a browser resolves it."""
    m = re.search(r'<form method="post" action="([^"]+)"', html)
    assert m, f"no form on the page: {html[:300]}"
    return urljoin(page_url, m.group(1).replace("&amp;", "&"))


async def call(session: ClientSession, name: str, args: dict) -> str:
    """Calls a tool and returns its text; raises if the tool reports an error."""
    r = await session.call_tool(name, args)
    text = "".join(getattr(c, "text", "") for c in r.content)
    if r.is_error:
        raise AssertionError(f"{name} failed: {text}")
    return text


class Browser:
    """The owner's browser: follows the authorization URL through sessiongate's login and
    consent pages (`password` is the owner's) to the client's `callback`."""

    def __init__(self, password: str, callback: str):
        self.password = password
        self.callback_url = callback
        self.result = None

    async def visit(self, authorization_url: str):
        async with httpx2.AsyncClient(follow_redirects=False) as b:
            page = await b.get(authorization_url)
            assert page.status_code == 200, f"authorize page: {page.status_code} {page.text[:300]}"
            assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
            fields = form_fields(page.text)
            login = await b.post(
                form_action(page.text, authorization_url),
                data={**fields, "password": self.password},
            )
            assert login.status_code == 303, f"login: {login.status_code} {login.text[:300]}"
            consent_url = urljoin(authorization_url, login.headers["location"])
            consent = await b.get(consent_url)
            assert consent.status_code == 200 and "Allow access?" in consent.text, consent.text[:300]
            fields = form_fields(consent.text)
            done = await b.post(
                form_action(consent.text, consent_url),
                data={**fields, "decision": "approve"},
            )
            assert done.status_code == 303, f"consent: {done.status_code} {done.text[:300]}"
            location = done.headers["location"]
            assert location.startswith(self.callback_url), location
            q = parse_qs(urlparse(location).query)
            self.result = AuthorizationCodeResult(
                code=q["code"][0], state=q.get("state", [None])[0], iss=q.get("iss", [None])[0]
            )

    async def callback(self) -> AuthorizationCodeResult:
        return self.result


def public_client(mcp_url: str, name: str, callback: str, browser, storage) -> OAuthClientProvider:
    """The SDK's OAuth provider for `mcp_url`, registering itself as a public client called
    `name` (authorization code with PKCE, refresh tokens, no client secret) whose redirect to
    `callback` is followed by `browser` (its `visit` and `callback`), keeping its
    registration and tokens in `storage`."""
    return OAuthClientProvider(
        server_url=mcp_url,
        client_metadata=OAuthClientMetadata(
            client_name=name,
            redirect_uris=[callback],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=browser.visit,
        callback_handler=browser.callback,
    )
