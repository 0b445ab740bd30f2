// A person in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core):
// opens the authorization URL, types the owner password, looks at the consent page, approves,
// and reports the code the browser was sent back with. Screenshots of both pages are kept.
//
//   node browser_login.mjs AUTHORIZE_URL PASSWORD CALLBACK_PREFIX SCREENSHOT_DIR
import { chromium } from "playwright-core";

const [authUrl, password, callback, shots] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
try {
  const page = await browser.newPage({ viewport: { width: 390, height: 844 } }); // a phone
  await page.goto(authUrl);
  await page.screenshot({ path: `${shots}/login.png`, fullPage: true });
  await page.fill("input[name=password]", password);
  await Promise.all([page.waitForURL(/\/authorize\/consent/), page.click("button[type=submit]")]);
  const heading = await page.textContent("h1");
  if (heading !== "Allow access?") throw new Error(`consent page shows ${heading}`);
  await page.screenshot({ path: `${shots}/consent.png`, fullPage: true });
  // The approval answers with a 303 to the app's callback (nothing listens there in this test).
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
  console.log(JSON.stringify({ ok: true, code }));
} finally {
  await browser.close();
}
