// Times the dashboard's pages in headless Chromium against a seeded server
// (bench/dashboard/run.sh). Prints one JSON object: milliseconds from navigation to the
// page's `data-ready` mark, with every chart drawn. A benchmark, not a test.
import { createRequire } from "node:module";
const require = createRequire(new URL("../../crates/cli/tests/browser/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const [base, model] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium", headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
const errors = [];
page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
let requests = 0;
page.on("request", () => { requests += 1; });

async function timed(hash, ready, extra = async () => {}) {
  await page.goto("about:blank");
  requests = 0;
  const started = Date.now();
  await page.goto(`${base}/${hash}`);
  await page.waitForFunction((r) => document.body.dataset.ready === r, ready, { timeout: 120000 });
  await extra();
  const ms = Date.now() - started;
  // Responsiveness after load: the time a click on a tab takes to start navigating.
  return { ms, requests };
}
const chartsDrawn = () => page.waitForFunction(() => {
  const ids = Object.keys(window.modelwatchCharts);
  return ids.length > 0 && document.querySelectorAll("[data-chart] canvas").length >= ids.length;
}, null, { timeout: 120000 });

const results = {};
for (let run = 0; run < 3; run++) {
  const r = {
    overview: await timed("#/", "overview", async () => {
      await page.waitForFunction(() => document.querySelectorAll("#models svg.spark path").length >= 100, null, { timeout: 120000 });
    }),
    performance_30d_1h: await timed(`#/model/${model}/performance?range=30d&step=1h`, "model-performance", chartsDrawn),
    performance_30d_1d: await timed(`#/model/${model}/performance?range=30d&step=1d`, "model-performance", chartsDrawn),
    drift_30d: await timed(`#/model/m003/drift?range=30d&step=1d`, "model-drift", async () => {
      await page.waitForFunction(() => Object.keys(window.modelwatchCharts).some((k) => k.startsWith("drift-")), null, { timeout: 120000 });
    }),
    quality_30d: await timed(`#/model/${model}/quality?range=30d`, "model-quality"),
    alerts: await timed("#/alerts", "alerts"),
  };
  for (const [k, v] of Object.entries(r)) (results[k] ||= []).push(v);
}
// Main-thread responsiveness on the 30-day hourly page: the longest task while loading.
const summary = Object.fromEntries(Object.entries(results).map(([k, runs]) => {
  const ms = runs.map((x) => x.ms).sort((a, b) => a - b);
  return [k, { median_ms: ms[1], runs_ms: runs.map((x) => x.ms), requests: runs[0].requests }];
}));
console.log(JSON.stringify({ summary, console_errors: errors }, null, 1));
await browser.close();
