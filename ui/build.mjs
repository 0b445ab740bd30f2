// Builds the board into one self-contained HTML file, gateway/assets/board.html, which the
// gateway embeds: src/main.js bundled and minified by esbuild, src/board.css minified, both
// inline in src/board.html. (The host enforces the CSP the resource's _meta declares: no
// external origin. The file sets none of its own, so that hosts that add their own script to
// the frame keep working.)
//
//   node build.mjs            write the file
//   node build.mjs --check    fail (exit 1) if the committed file differs from a fresh build
import { build, transform } from "esbuild";
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const out = here("../gateway/assets/board.html");
const LIMIT = 150 * 1024;

const js = await build({
  entryPoints: [here("src/main.js")],
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2020",
  charset: "utf8",
  legalComments: "none",
  write: false,
});
const script = js.outputFiles[0].text.trim().replaceAll("</script", "<\\/script");
const css = await transform(readFileSync(here("src/board.css"), "utf8"), {
  loader: "css",
  minify: true,
  charset: "utf8",
});
const style = css.code.trim();
const html = readFileSync(here("src/board.html"), "utf8")
  .replace("__STYLE__", () => style)
  .replace("__SCRIPT__", () => script);

const size = Buffer.byteLength(html, "utf8");
if (size > LIMIT) {
  console.error(`board.html is ${size} bytes, over the budget of ${LIMIT}`);
  process.exit(1);
}
if (process.argv.includes("--check")) {
  let committed = "";
  try {
    committed = readFileSync(out, "utf8");
  } catch {}
  if (committed !== html) {
    console.error("gateway/assets/board.html differs from a fresh build of ui/: run `npm run build` in ui/ and commit it");
    process.exit(1);
  }
  console.log(`gateway/assets/board.html matches a fresh build (${size} bytes)`);
} else {
  writeFileSync(out, html);
  console.log(`wrote gateway/assets/board.html (${size} bytes)`);
}
