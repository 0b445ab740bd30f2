// An MCP Apps host for the session board, in headless Chromium (Debian's, driven by
// playwright-core). The MCP TypeScript SDK client connects to the gateway with a bearer
// token (it stays in Node); the page runs the MCP Apps SDK's AppBridge with its
// PostMessageTransport and shows the board in a sandboxed frame; the view's tool calls go
// through the bridge to this client and on to the gateway.
//
//   node board_host.mjs MCP_URL TOKEN SHOTS_DIR SESSION ANSWER_LABEL PREFIX
//   node board_host.mjs MCP_URL TOKEN SHOTS_DIR - - PREFIX     (the board for list_sessions:
//                                                                 its cards, or its empty state)
//
// Lists the tools (the four that show sessions must link the board), reads the board
// resource (MIME type and _meta), calls check_prompts and renders the board for its result,
// takes screenshots (360x780 and 1280x800, light and dark) named PREFIX-*, presses the
// option button labelled ANSWER_LABEL on SESSION's card and prints, as JSON, what the card
// said after the press and the tool calls the view made; then opens the session's screen.
import { build } from "../../ui/node_modules/esbuild/lib/main.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { chromium } from "playwright-core";
import { fileURLToPath } from "node:url";

const [url, token, shots, session, label, prefix] = process.argv.slice(2);
const URI = "ui://sessiongate/board.html";
const LINKED = ["list_sessions", "check_prompts", "get_session_status", "get_logs"];
const fail = (msg) => {
  throw new Error(msg);
};

const client = new Client({ name: "board-test-host", version: "1.0.0" });
await client.connect(
  new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  }),
);
const report = { calls: [] };
try {
  const { tools } = await client.listTools();
  for (const name of LINKED) {
    const t = tools.find((x) => x.name === name) || fail(`no tool ${name}`);
    if (t._meta?.ui?.resourceUri !== URI) fail(`${name} does not link the board: ${JSON.stringify(t._meta)}`);
    if (t._meta?.["openai/outputTemplate"] !== URI) fail(`${name} has no openai/outputTemplate`);
  }
  const read = await client.readResource({ uri: URI });
  const content = read.contents[0];
  if (content.mimeType !== "text/html;profile=mcp-app") fail(`board MIME type ${content.mimeType}`);
  const csp = content._meta?.ui?.csp;
  if (!csp || csp.connectDomains?.length || csp.resourceDomains?.length) fail(`board CSP ${JSON.stringify(csp)}`);
  const html = content.text;

  const empty = session === "-";
  const tool = empty ? "list_sessions" : "check_prompts";
  const result = await client.callTool({ name: tool, arguments: {} });
  if (!result.content?.[0]?.text) fail(`${tool} has no text content`);

  const bundle = await build({
    entryPoints: [fileURLToPath(new URL("board_host_page.js", import.meta.url))],
    bundle: true,
    format: "iife",
    platform: "browser",
    write: false,
    logLevel: "silent",
  });
  const hostScript = bundle.outputFiles[0].text;

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 360, height: 780 } });
    page.on("pageerror", (e) => console.error("page error:", e.message));
    // Every request the page makes is refused: the board needs nothing from any network.
    await page.route("**/*", (route) => {
      report.network = (report.network || 0) + 1;
      return route.abort();
    });
    await page.exposeFunction("hostCallTool", async (params) => {
      report.calls.push({ name: params.name, arguments: params.arguments });
      return client.callTool(params);
    });
    await page.setContent(`<!doctype html><html><head><style>
      html,body{margin:0;height:100%;background:#888}
      iframe{border:0;width:100vw;height:100vh;display:block}
      </style></head><body></body></html>`);
    await page.addScriptTag({ content: hostScript });
    await page.evaluate(
      async ({ html, result }) => {
        const { AppBridge, PostMessageTransport } = window.boardHost;
        const frame = document.createElement("iframe");
        frame.setAttribute("sandbox", "allow-scripts allow-forms");
        frame.title = "sessiongate board";
        document.body.append(frame);
        const bridge = new AppBridge(
          null,
          { name: "board-test-host", version: "1.0.0" },
          { serverTools: {} },
          { hostContext: { theme: "light", displayMode: "inline", platform: "mobile" } },
        );
        bridge.oncalltool = (params) => window.hostCallTool(params);
        bridge.oninitialized = () => {
          bridge.sendToolInput({ arguments: {} });
          bridge.sendToolResult(result);
        };
        window.bridge = bridge;
        await bridge.connect(new PostMessageTransport(frame.contentWindow, frame.contentWindow));
        frame.srcdoc = html;
      },
      { html, result },
    );
    const view = page.frameLocator("iframe");
    const setTheme = (theme) => page.evaluate((t) => window.bridge.setHostContext({ theme: t }), theme);
    if (empty) {
      await view.locator(".empty, article").first().waitFor({ timeout: 30000 });
      const box = view.locator(".empty");
      report.empty = (await box.count()) ? await box.textContent() : null;
      report.cards = await view.locator("article").evaluateAll((cards) =>
        cards.map((c) => ({ name: c.dataset.session, class: c.className, badge: c.querySelector(".badge")?.textContent })),
      );
      for (const theme of ["light", "dark"]) {
        await setTheme(theme);
        await view.locator(`html[data-theme="${theme}"]`).waitFor();
        await page.screenshot({ path: `${shots}/${prefix}-360x780-${theme}.png` });
      }
      report.before = report.calls.length;
    } else {
      const card = view.locator(`article[data-session="${session}"]`);
      const button = card.locator(`button.option[data-label="${label}"]`);
      await button.waitFor({ timeout: 30000 });

      for (const [w, h] of [[360, 780], [1280, 800]]) {
        await page.setViewportSize({ width: w, height: h });
        for (const theme of ["light", "dark"]) {
          await setTheme(theme);
          await view.locator(`html[data-theme="${theme}"]`).waitFor();
          await page.screenshot({ path: `${shots}/${prefix}-${w}x${h}-${theme}.png` });
        }
      }
      await page.setViewportSize({ width: 360, height: 780 });
      await setTheme("light");

      report.before = report.calls.length;
      // Pressed from the keyboard: the board works without a pointer.
      await button.focus();
      await page.keyboard.press("Enter");
      const note = card.locator("p.note:not(.pending)");
      await note.waitFor({ timeout: 30000 });
      report.note = await note.textContent();
      await page.screenshot({ path: `${shots}/${prefix}-after.png` });
      report.pressed = report.calls.slice(report.before);

      // The owner opens the session: its screen, coloured, followed by wait_for.
      await card.locator("button.head").click();
      const screen = view.locator("#screen");
      await view.locator("#screen span, #screen:not(:empty)").first().waitFor({ timeout: 30000 });
      report.screen = await screen.textContent();
      await page.screenshot({ path: `${shots}/${prefix}-screen-360x780.png` });
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.screenshot({ path: `${shots}/${prefix}-screen-1280x800.png` });
      report.opened = report.calls.slice(report.before + report.pressed.length).map((c) => c.name);
    }
  } finally {
    await browser.close();
    console.log(JSON.stringify(report));
  }
} finally {
  await client.close();
}
