// The owner in headless Chromium at phone size (Debian's /usr/bin/chromium, driven by
// playwright-core) follows an answer link from a notification email: the page shows the
// question, the owner types the password and presses the button, and the result page says
// what happened. Screenshots of both pages are kept.
//
//   node browser_answer.mjs ANSWER_URL PASSWORD SCREENSHOT_DIR
import { chromium } from "playwright-core";

const [url, password, shots] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
try {
  const page = await browser.newPage({ viewport: { width: 390, height: 844 } }); // a phone
  await page.goto(url);
  await page.screenshot({ path: `${shots}/answer.png`, fullPage: true });
  const question = await page.textContent("main");
  await page.fill("input[name=password]", password);
  const [resp] = await Promise.all([
    page.waitForResponse((r) => r.url() === url && r.request().method() === "POST"),
    page.click("button[type=submit]"),
  ]);
  await page.waitForLoadState();
  await page.screenshot({ path: `${shots}/answered.png`, fullPage: true });
  const heading = await page.textContent("h1");
  console.log(JSON.stringify({ status: resp.status(), heading, question }));
} finally {
  await browser.close();
}
