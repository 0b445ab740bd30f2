// A person in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core) signs in
// through an upstream identity provider: opens the authorization URL, clicks "Sign in with
// <provider>", types the login and password at the provider, comes back to sessiongate's
// consent page, approves, and reports the code and who the consent page said was signed in.
// A real browser enforces what plain HTTP does not: the login page's Content-Security-Policy
// (form-action must allow the redirect to the provider) and SameSite cookies across the sites.
//
//   node browser_idp.mjs AUTHORIZE_URL PROVIDER LOGIN PASSWORD CALLBACK_PREFIX SCREENSHOT_DIR
import { chromium } from "playwright-core";

const [authUrl, provider, login, password, callback, shots] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
try {
  const page = await browser.newPage({ viewport: { width: 390, height: 844 } }); // a phone
  const blocked = [];
  page.on("console", (m) => { if (/Content Security Policy/i.test(m.text())) blocked.push(m.text()); });
  await page.goto(authUrl);
  await page.screenshot({ path: `${shots}/idp-login.png`, fullPage: true });
  await Promise.all([
    page.waitForURL(/\/interaction\//),
    page.click(`button[name=provider][value=${provider}]`),
  ]);
  await page.fill("input[name=login]", login);
  await page.fill("input[name=password]", password);
  await Promise.all([page.waitForURL(/\/authorize\/consent/), page.click("button")]);
  const heading = await page.textContent("h1");
  if (heading !== "Allow access?") throw new Error(`consent page shows ${heading}`);
  const signedInAs = await page.textContent("p:has-text('Signed in as') .host");
  await page.screenshot({ path: `${shots}/idp-consent.png`, fullPage: true });
  const [resp] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/authorize/consent") && r.request().method() === "POST"),
    page.click("button[value=approve]"),
  ]);
  const location = resp.headers()["location"] || "";
  if (resp.status() !== 303 || !location.startsWith(callback)) {
    throw new Error(`approval answered ${resp.status()} to ${location}`);
  }
  const code = new URL(location).searchParams.get("code");
  if (!code) throw new Error("no code came back");
  console.log(JSON.stringify({ ok: true, code, signedInAs, cspViolations: blocked }));
} finally {
  await browser.close();
}
