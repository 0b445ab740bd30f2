// Prints every conformance check that did not pass, with its message, from the results
// directory that `conformance server -o DIR` wrote (one `<mode>-<scenario>-<time>/checks.json`
// per scenario; server and authorization modes), so that a CI log says why a scenario failed without opening the files.
//
//   node tests/conformance/report.mjs tests/artifacts/conformance/results
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.argv[2];
if (!dir) {
  console.error("usage: node report.mjs RESULTS_DIR");
  process.exit(2);
}

let entries;
try {
  entries = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory());
} catch (err) {
  console.error(`conformance report: cannot read ${dir}: ${err.message}`);
  process.exit(1);
}

const lines = [];
for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
  const scenario = entry.name.replace(/^(server|client|authorization-server)-/, "").replace(/-\d{4}-\d\d-\d\dT.*$/, "");
  let checks;
  try {
    checks = JSON.parse(readFileSync(join(dir, entry.name, "checks.json"), "utf8"));
  } catch (err) {
    lines.push(`${scenario}: no readable checks.json (${err.message})`);
    continue;
  }
  for (const check of checks) {
    if (check.status === "SUCCESS" || check.status === "INFO") continue;
    const message = String(check.errorMessage ?? check.details?.message ?? "").replace(/\s+/g, " ");
    lines.push(`${check.status.padEnd(8)} ${scenario}:${check.id}  ${message.slice(0, 400)}`);
  }
}

console.log(`\n=== checks that did not pass (${lines.length}); results in ${dir}`);
for (const line of lines) console.log(line);
