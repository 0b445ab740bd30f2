// Drives sessiongate with the official MCP TypeScript SDK and its OAuth client provider:
// discovery from the 401, dynamic registration, PKCE, the login and consent forms (submitted
// here as a browser would), finishAuth, tool calls, and a refresh once the short-lived access
// token has expired.
//
//   node ts_sdk_oauth_flow.mjs MCP_URL PASSWORD ROOT_DIR ACCESS_TTL_SECONDS
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";

const [mcpUrl, password, root, ttl] = process.argv.slice(2);
const callback = "http://127.0.0.1:33419/callback";

class Provider {
  constructor() { this.saved = {}; this.authUrl = null; this.tokenHistory = []; }
  get redirectUrl() { return callback; }
  get clientMetadata() {
    return {
      client_name: "MCP TypeScript SDK test",
      redirect_uris: [callback],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  clientInformation() { return this.saved.client; }
  saveClientInformation(c) { this.saved.client = c; }
  tokens() { return this.saved.tokens; }
  saveTokens(t) { this.saved.tokens = t; this.tokenHistory.push(t.access_token); }
  redirectToAuthorization(url) { this.authUrl = url; }
  saveCodeVerifier(v) { this.saved.verifier = v; }
  codeVerifier() { return this.saved.verifier; }
}

function hidden(html) {
  const out = {};
  for (const m of html.matchAll(/<input type="hidden" name="(\w+)" value="([^"]*)"/g)) out[m[1]] = m[2];
  return out;
}

// The browser's cookies for the gateway (every one is on Path=/): the authorization page sets a
// browser cookie that its forms must come back with, the login adds the login cookie.
class Jar {
  constructor() { this.cookies = new Map(); }
  keep(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const eq = pair.indexOf("=");
      this.cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1));
    }
  }
  get header() { return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "); }
}

async function browse(authUrl) {
  const jar = new Jar();
  const page = await fetch(authUrl, { redirect: "manual" });
  if (page.status !== 200) throw new Error(`authorize page ${page.status}`);
  jar.keep(page);
  const base = new URL(authUrl).origin;
  const login = await fetch(`${base}/authorize/login`, {
    method: "POST", redirect: "manual", headers: { cookie: jar.header },
    body: new URLSearchParams({ ...hidden(await page.text()), password }),
  });
  if (login.status !== 303) throw new Error(`login ${login.status}`);
  jar.keep(login);
  const consent = await fetch(new URL(login.headers.get("location"), base), { headers: { cookie: jar.header } });
  const fields = hidden(await consent.text());
  const done = await fetch(`${base}/authorize/consent`, {
    method: "POST", redirect: "manual", headers: { cookie: jar.header },
    body: new URLSearchParams({ ...fields, decision: "approve" }),
  });
  const location = new URL(done.headers.get("location"));
  if (!location.href.startsWith(callback)) throw new Error(`redirected to ${location}`);
  return location.searchParams.get("code");
}

async function callTool(client, name, args) {
  const r = await client.callTool({ name, arguments: args });
  const text = r.content.map((c) => c.text ?? "").join("");
  if (r.isError) throw new Error(`${name} failed: ${text}`);
  return text;
}

const provider = new Provider();
let transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider });
let client = new Client({ name: "sessiongate-ts-test", version: "0" });
try {
  await client.connect(transport);
  throw new Error("connected without authorization");
} catch (e) {
  if (!(e instanceof UnauthorizedError)) throw e;
}
if (!provider.authUrl) throw new Error("the SDK never asked for authorization");
const code = await browse(provider.authUrl.href);
await transport.finishAuth(code);
transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider });
client = new Client({ name: "sessiongate-ts-test", version: "0" });
await client.connect(transport);
const tools = (await client.listTools()).tools.map((t) => t.name);
for (const t of ["create_session", "send_message", "get_logs", "wait_for"]) {
  if (!tools.includes(t)) throw new Error(`missing tool ${t}`);
}
await callTool(client, "create_session", { name: "ts", profile: "bash", working_dir: root });
await callTool(client, "send_message", { session: "ts", message: "echo from-ts-sdk" });
const waited = await client.callTool({ name: "wait_for", arguments: { session: "ts", until: "match", pattern: "^from-ts-sdk$", timeout_s: 20 } });
if (!waited.structuredContent?.condition_met) throw new Error(`wait_for: ${JSON.stringify(waited)}`);
const first = provider.saved.tokens.access_token;
await new Promise((r) => setTimeout(r, (Number(ttl) + 7) * 1000));
// The access token has expired (past the server's 5 s leeway): the SDK must refresh on the 401.
const listing = await callTool(client, "list_sessions", {});
if (!listing.includes("ts")) throw new Error(listing);
if (provider.saved.tokens.access_token === first) throw new Error("the token was never refreshed");
await callTool(client, "terminate_session", { session: "ts" });
await client.close();
console.log(JSON.stringify({ ok: true, tokens_issued: provider.tokenHistory.length }));
