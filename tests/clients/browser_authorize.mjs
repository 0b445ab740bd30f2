// A person in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core) signs
// in to sessiongate's authorization page, approves the consent page, and lets the browser
// follow the redirect to the client's live callback (a loopback server the client runs, such
// as the MCP conformance suite's). Unlike browser_login.mjs, which stops at the redirect,
// this waits until the callback page has loaded, so the client really received the code.
// Screenshots of the login, consent and callback pages are kept in SCREENSHOT_DIR.
//
//   node browser_authorize.mjs AUTHORIZE_URL PASSWORD CALLBACK_URL SCREENSHOT_DIR
//
// Prints {"ok":true,"callback":"<callback URL without its query>","params":[...names]} and
// exits 0, or prints what went wrong and exits 1.
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const [authUrl, password, callback, shots] = process.argv.slice(2);
if (!authUrl || !password || !callback || !shots) {
  console.error("usage: node browser_authorize.mjs AUTHORIZE_URL PASSWORD CALLBACK_URL SCREENSHOT_DIR");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
let failed = false;
try {
  const page = await browser.newPage({ viewport: { width: 390, height: 844 } }); // a phone
  page.setDefaultTimeout(20_000);
  await page.goto(authUrl);
  await page.screenshot({ path: `${shots}/login.png`, fullPage: true });
  await page.fill("input[name=password]", password);
  await Promise.all([page.waitForURL(/\/authorize\/consent/), page.click("button[type=submit]")]);
  const heading = (await page.textContent("h1"))?.trim();
  if (heading !== "Allow access?") throw new Error(`expected the consent page, the page shows "${heading}"`);
  await page.screenshot({ path: `${shots}/consent.png`, fullPage: true });
  await Promise.all([
    page.waitForURL((url) => url.href.startsWith(callback), { waitUntil: "load" }),
    page.click("button[value=approve]"),
  ]);
  await page.screenshot({ path: `${shots}/callback.png`, fullPage: true });
  const landed = new URL(page.url());
  console.log(JSON.stringify({
    ok: true,
    callback: `${landed.origin}${landed.pathname}`,
    params: [...landed.searchParams.keys()],
  }));
} catch (err) {
  failed = true;
  console.log(JSON.stringify({ ok: false, error: String(err?.message ?? err) }));
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
