// A certified OpenID Connect provider (the npm package oidc-provider) on loopback, for
// sessiongate's upstream sign-in tests. Test-only: fixed test users, no persistence.
//
//   node oidc_provider.mjs [--mode normal|wrong-nonce|tamper-id-token]
//
// It listens on 127.0.0.1 (an OS-picked port) and prints `issuer http://127.0.0.1:PORT`, then
// reads one line from standard input: the redirect URI of sessiongate's callback (known only
// once sessiongate runs), registers the client `sessiongate` (secret `sessiongate-test-secret`,
// client_secret_basic) with it, and prints `ready`.
//
// Users (password = name + "-password"): alice (alice@example.com, verified, groups
// ["sessiongate-users"]) and mallory (mallory@evil.example, verified, no groups).
// The login page is a plain form (POST login, password; POST .../abort cancels with
// access_denied); consent is granted automatically.
//
// Modes, to test sessiongate's refusals with a provider that really signs what it sends:
//   wrong-nonce      the provider receives another nonce than sessiongate sent, and signs it
//   tamper-id-token  the ID token's payload is altered after signing (signature now invalid)
import http from 'node:http';
import crypto from 'node:crypto';
import readline from 'node:readline';
import Provider from 'oidc-provider';

const mode = process.argv.includes('--mode') ? process.argv[process.argv.indexOf('--mode') + 1] : 'normal';
const users = {
  alice: { sub: 'alice-0001', email: 'alice@example.com', email_verified: true, name: 'Alice', groups: ['sessiongate-users'] },
  mallory: { sub: 'mallory-0002', email: 'mallory@evil.example', email_verified: true, name: 'Mallory', groups: [] },
};
const bySub = Object.fromEntries(Object.entries(users).map(([login, u]) => [u.sub, { login, ...u }]));

let provider = null;
const server = http.createServer((req, res) => {
  if (!provider) {
    res.writeHead(503).end('not ready');
    return;
  }
  route(req, res).catch((err) => {
    console.error('oidc_provider.mjs:', err);
    if (!res.headersSent) res.writeHead(500).end(String(err));
  });
});
server.listen(0, '127.0.0.1', () => {
  console.log(`issuer http://127.0.0.1:${server.address().port}`);
});

const rl = readline.createInterface({ input: process.stdin });
rl.once('line', (redirectUri) => {
  provider = makeProvider(`http://127.0.0.1:${server.address().port}`, redirectUri.trim());
  console.log('ready');
});
rl.on('close', () => process.exit(0));

function makeProvider(issuer, redirectUri) {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'test-rsa', use: 'sig', alg: 'RS256' };
  const p = new Provider(issuer, {
    clients: [{
      client_id: 'sessiongate',
      client_secret: 'sessiongate-test-secret',
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    jwks: { keys: [jwk] },
    cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
    scopes: ['openid', 'email', 'profile', 'groups'],
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    pkce: { required: () => true },
    async findAccount(ctx, sub) {
      const u = bySub[sub];
      if (!u) return undefined;
      return {
        accountId: sub,
        async claims() {
          return { sub, email: u.email, email_verified: u.email_verified, name: u.name, groups: u.groups };
        },
      };
    },
  });
  p.use(async (ctx, next) => {
    if (mode === 'wrong-nonce' && ctx.path === '/auth' && ctx.query.nonce) {
      ctx.query = { ...ctx.query, nonce: 'a-nonce-sessiongate-never-sent' };
    }
    await next();
    if (mode === 'tamper-id-token' && ctx.path === '/token' && ctx.body && ctx.body.id_token) {
      const [h, payload, sig] = ctx.body.id_token.split('.');
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
      claims.sub = 'alice-0001-but-someone-else';
      ctx.body = { ...ctx.body, id_token: [h, Buffer.from(JSON.stringify(claims)).toString('base64url'), sig].join('.') };
    }
  });
  return p;
}

function page(res, status, body) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`<!doctype html><title>Test IdP</title>${body}`);
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return Object.fromEntries(new URLSearchParams(body));
}

async function route(req, res) {
  const url = new URL(req.url, 'http://127.0.0.1');
  const m = url.pathname.match(/^\/interaction\/([\w-]+)(\/login|\/abort)?$/);
  if (!m) {
    provider.callback()(req, res);
    return;
  }
  const details = await provider.interactionDetails(req, res);
  if (req.method === 'POST' && m[2] === '/abort') {
    // The person cancels at the provider: it answers access_denied.
    await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'End-User aborted interaction' }, { mergeWithLastSubmission: false });
    return;
  }
  if (req.method === 'POST' && m[2]) {
    const form = await readForm(req);
    const u = users[form.login];
    if (!u || form.password !== `${form.login}-password`) {
      page(res, 401, `<p id="error">wrong login or password</p>${loginForm(details.uid)}`);
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: u.sub } }, { mergeWithLastSubmission: false });
    return;
  }
  if (details.prompt.name === 'login') {
    page(res, 200, loginForm(details.uid));
    return;
  }
  // Consent: granted automatically for the test client.
  const { prompt: { details: missing }, params, session } = details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

function loginForm(uid) {
  return `<form method="post" action="/interaction/${uid}/login">` +
    '<input name="login"><input name="password" type="password"><button>Sign in</button></form>';
}
