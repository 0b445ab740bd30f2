"""What the Python SDK test clients share: in-memory token storage, reading the hidden
fields and the action of sessiongate's HTML forms as a browser would, and a tool call that
fails loudly. Imported by python_oauth_flow.py and python_idp_flow.py (same folder)."""

import re
from urllib.parse import urljoin

from mcp import ClientSession
from mcp.client.auth import TokenStorage
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken


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
