// Drives Debian's Chromium (headless) over the dashboard of a running modelwatch server
// with demo data. Usage: node dashboard.mjs BASE_URL ARTIFACT_DIR [--token-from-env]
// With --token-from-env the server needs a token: the page must ask for it, and the
// token (MODELWATCH_TOKEN) must never appear in a URL. With REPORT_FILE, the HTML report
// is also opened from disk with the network off.
// Prints one JSON object (what was seen) on stdout; exits 1 with the reason on a failure.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const [base, artifacts, mode, reportFile] = process.argv.slice(2);
const withToken = mode === "--token-from-env";
mkdirSync(artifacts, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
const consoleErrors = [];
const urls = [];
page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
page.on("pageerror", (e) => consoleErrors.push(`page error: ${e.message}`));
page.on("request", (r) => urls.push(r.url()));
page.on("requestfailed", (r) => consoleErrors.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));

const seen = { screenshots: [] };
function check(condition, message) {
  if (!condition) throw new Error(message);
}
async function ready(name) {
  await page.waitForFunction((n) => document.body.dataset.ready === n, name, { timeout: 30000 });
}
async function shot(name) {
  const path = join(artifacts, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  seen.screenshots.push(path);
}
// Waits until every chart drawn has its uPlot canvas, then returns the point counts.
async function charts() {
  await page.waitForFunction(() => {
    const ids = Object.keys(window.modelwatchCharts);
    return ids.length > 0 && document.querySelectorAll("[data-chart] canvas").length >= ids.filter((id) => id !== "confusion" && id !== "world-map" && !id.startsWith("ridge-")).length;
  }, null, { timeout: 30000 });
  return page.evaluate(() => JSON.parse(JSON.stringify(window.modelwatchCharts)));
}

try {
  await page.goto(base + "/");
  if (withToken) {
    await page.waitForSelector("#login[open]", { timeout: 15000 });
    await shot("login");
    await page.fill("#login-token", process.env.MODELWATCH_TOKEN);
    await page.click("#login-form button[type=submit]");
  }
  await ready("overview");
  const rows = await page.$$eval("#models tr[data-model]", (trs) => trs.map((tr) => ({
    model: tr.dataset.model, cells: [...tr.cells].map((td) => td.textContent), spark: tr.querySelector("svg.spark path")?.getAttribute("d") || "",
  })));
  seen.overview = rows;
  check(rows.length > 0, "the overview lists no model");
  for (const r of rows) check((r.spark.match(/[ML]/g) || []).length >= 2, `no sparkline for ${r.model}`);
  await shot("overview");

  const model = rows[0].model;
  await page.click(`#models tr[data-model="${model}"] a`);
  await ready("model-performance");
  const performance = await charts();
  seen.performance = performance;
  check(performance["metric-accuracy"]?.points > 0 || performance["metric-mae"]?.points > 0, "the headline chart has no data point");
  check(performance.latency?.points > 0 && performance.counts?.points > 0, "the latency or counts chart has no data point");
  check(!performance["metric-accuracy"] || performance["metric-accuracy"].bands >= 1, "the accuracy chart draws no interval band");
  // The served model's resource use (the demo's pods send telemetry) and its log errors.
  seen.telemetryPanel = await page.$$eval("#telemetry-panel [data-chart]", (charts) => charts.map((c) => c.dataset.chart));
  check(performance["resource-cpu"]?.points > 0 && performance["resource-instances"]?.points > 0, "the resource-use panel has no data point");
  check(performance["log-errors"]?.points > 0, "the log errors chart has no data point");
  seen.canvases = await page.$$eval("[data-chart] canvas", (c) => c.length);
  await shot("performance-7d");

  // Switch the time range: the page reloads its charts for the last 24 hours.
  const before = await page.textContent("#range-shown");
  await page.selectOption("#range", "24h");
  await page.waitForFunction((b) => document.querySelector("#range-shown")?.textContent !== b && document.body.dataset.ready === "model-performance", before, { timeout: 30000 });
  const day = await charts();
  seen.rangeShown = [before, await page.textContent("#range-shown")];
  check(day.counts.points > 0, "after switching to 24h the counts chart is empty");
  check(day.counts.points <= 2 * 24, `24h at step 1h drew ${day.counts.points} count points`);
  check(!page.url().includes("mw_"), "a token went into the page's URL");
  await shot("performance-24h");

  // Drift over the whole demo: the drift table, a distribution and the drift over time.
  await page.selectOption("#range", "7d");
  await ready("model-performance");
  const beforeDrift = urls.length;
  await page.click('.tabs a[data-tab="drift"]');
  await ready("model-drift");
  seen.drifted = await page.$$eval('#drift-table tr[data-drifted="true"]', (trs) => trs.map((tr) => tr.dataset.feature));
  seen.driftOrder = await page.$$eval("#drift-table tr[data-feature]", (trs) => trs.map((tr) => tr.dataset.feature));
  check(seen.drifted.length > 0, "the drift table lists no drifted feature");
  const firstDrifted = seen.drifted[0];
  await page.waitForFunction((f) => (window.modelwatchCharts[`drift-${f}`]?.points || 0) > 0, firstDrifted, { timeout: 30000 });
  seen.drift = await charts();
  check(seen.drift[`distribution-${firstDrifted}`]?.points > 0, "no distribution chart for the first drifted feature");
  // The drift per window comes from the one drift query's series, not a query per window.
  seen.driftRequests = urls.slice(beforeDrift).filter((u) => u.includes("/drift")).map((u) => u.slice(base.length));
  seen.driftSeries = await page.evaluate(() => window.modelwatchDriftSeries);
  check(seen.driftRequests.length === 1 && seen.driftRequests[0].includes("step="), `drift requests: ${seen.driftRequests.join(", ")}`);
  check(seen.driftSeries?.feature === firstDrifted && seen.driftSeries.values.some((v) => v !== null), "the drift chart has no series of the feature");
  await shot("drift");

  await page.click('.tabs a[data-tab="quality"]');
  await ready("model-quality");
  seen.qualityHighlighted = await page.$$eval("#quality-table td.bad", (tds) => tds.length);
  await shot("quality");

  await page.click('.tabs a[data-tab="confusion"]');
  await ready("model-confusion");
  seen.confusionCells = await page.$$eval("#confusion td", (tds) => tds.map((td) => td.textContent));
  await shot("confusion");

  // The world map of the demo's `country`: every country with rows filled, and the table.
  await page.click('.tabs a[data-tab="map"]');
  await ready("model-map");
  seen.map = await charts();
  seen.mapCountries = await page.$$eval("#map-countries tr[data-code]", (trs) => trs.map((tr) => [tr.dataset.code, tr.cells[1].textContent]));
  check(seen.map["world-map"]?.countries > 0, "the map filled no country");
  await page.selectOption("#map-colour", "metric:accuracy");
  await page.waitForFunction(() => window.modelwatchCharts["world-map"]?.colour === "metric:accuracy", null, { timeout: 30000 });
  seen.mapByAccuracy = await page.evaluate(() => window.modelwatchCharts["world-map"].countries);
  seen.mapAccuracy = await page.$$eval("#map-countries tr[data-code]", (trs) => trs.map((tr) => [tr.dataset.code, tr.cells[5].textContent]));
  await shot("map");
  // Correlations: the heatmap of the range, then the scatter plot of two other columns.
  await page.click('.tabs a[data-tab="correlations"]');
  await ready("model-correlations");
  seen.heatmapCells = await page.$$eval("#correlation-heatmap td", (tds) => tds.length);
  seen.correlationColumns = await page.$$eval("#scatter-x option", (os) => os.map((o) => o.value));
  check(seen.heatmapCells > 0, "the correlations tab drew no heatmap");
  const [sx, sy] = seen.correlationColumns.slice(-2);
  await page.selectOption("#scatter-x", sx);
  await page.selectOption("#scatter-y", sy);
  await page.waitForFunction((want) => document.body.dataset.scatter === want, `${sx}/${sy}`, { timeout: 30000 });
  seen.scatter = { x: sx, y: sy, points: await page.$$eval("#scatter-plot circle", (cs) => cs.length) };
  check(seen.scatter.points > 0, "the scatter plot has no point");
  await shot("correlations");

  // Model internals: a ridge of histograms per layer over the steps, the training record,
  // and the diff table between the two versions.
  await page.click('.tabs a[data-tab="internals"]');
  await ready("model-internals");
  seen.internals = await charts();
  seen.ridges = await page.$$eval("#ridges svg.ridges path", (paths) => paths.length);
  seen.internalsDiff = await page.$$eval("#internals-diff tr[data-tensor]", (trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent)));
  check(seen.ridges > 0, "the internals tab drew no histogram");
  check(seen.internalsDiff.length > 0, "the internals diff table is empty");
  await shot("internals");

  // Logs: template counts over time, the templates, the newest records, and a search.
  await page.click('.tabs a[data-tab="logs"]');
  await ready("model-logs");
  seen.logs = await charts();
  seen.logTemplates = await page.$$eval("#log-patterns tr[data-template]", (trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent)));
  seen.logRecords = await page.$$eval("#log-records tr[data-level]", (trs) => trs.length);
  check(seen.logs["log-templates"]?.points > 0, "the log templates chart has no data point");
  check(seen.logTemplates.length > 0 && seen.logRecords > 0, "the logs tab lists no template or record");
  await shot("logs");
  await page.selectOption("#log-level", "fatal");
  await page.waitForFunction(() => document.body.dataset.ready === "model-logs" && location.hash.includes("level=fatal"), null, { timeout: 30000 });
  await page.waitForFunction(() => [...document.querySelectorAll("#log-records tr[data-level]")].every((tr) => tr.dataset.level === "fatal"), null, { timeout: 30000 });
  seen.fatalRecords = await page.$$eval("#log-records tr[data-level]", (trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent)));
  await shot("logs-fatal");

  await page.click('.tabs a[data-tab="alerts"]');
  await ready("model-alerts");
  seen.firing = await page.$$eval("table.alerts tr[data-alert] .badge.firing", (b) => b.length);
  await shot("alerts");
  if (!withToken && seen.firing > 0) {
    // Silence the first firing alert from the page.
    await page.click("button.silence");
    await page.waitForFunction(() => document.body.dataset.ready === "model-alerts" && !!document.querySelector("table.alerts td:nth-child(8)")?.textContent.match(/ui-/), null, { timeout: 30000 });
    seen.silencedBy = await page.$$eval("table.alerts tr[data-alert] td:nth-child(8)", (tds) => tds.map((td) => td.textContent));
    await shot("alerts-silenced");
  }
  // Issue 18: the rule editor backtests the model's first rule (or a template) over the
  // page's range and draws the alert spans with the counts.
  const [backtestResponse] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/api/v1/rules/backtest") && r.request().method() === "POST", { timeout: 30000 }),
    page.click("#backtest"),
  ]);
  const answer = await backtestResponse.json();
  await ready("backtest");
  const backtestError = await page.$eval("#backtest-result .error", (p) => p.textContent).catch(() => null);
  check(!backtestError, `the backtest failed: ${backtestError}`);
  seen.backtest = {
    rule: await page.$eval("#rule-name", (i) => i.value),
    counts: await page.$eval("#backtest-counts", (p) => p.textContent),
    alerts: await page.$$eval("table.backtest-alerts tr[data-backtest-alert]", (trs) => trs.map((tr) => tr.dataset.backtestAlert)),
    strip: await page.$$eval(".alert-strip rect", (r) => r.length),
    chart: (await charts()).backtest,
  };
  seen.backtest.answer = { alerts: answer.alerts.map((a) => a.starts_at), counts: answer.counts, values: answer.spans.filter((s) => s.value !== null).length };
  check(seen.backtest.strip === seen.backtest.alerts.length, "the alert strip and the alert table disagree");
  await shot("backtest");
  if (reportFile) {
    // The HTML report opens with the network cut off: nothing but the file is requested.
    const offline = await browser.newContext({ offline: true });
    const reportPage = await offline.newPage();
    const requested = [];
    reportPage.on("request", (r) => requested.push(r.url()));
    reportPage.on("console", (m) => { if (m.type() === "error") consoleErrors.push(`report: ${m.text()}`); });
    await reportPage.goto("file://" + reportFile);
    seen.report = {
      requests: requested,
      lines: await reportPage.$$eval("svg path.line", (ps) => ps.filter((p) => (p.getAttribute("d") || "").includes("L")).length),
      distributions: await reportPage.$$eval("table.drift svg", (s) => s.length),
    };
    await reportPage.screenshot({ path: join(artifacts, "report.png"), fullPage: true });
    seen.screenshots.push(join(artifacts, "report.png"));
    check(requested.length === 1, `the report requested more than itself: ${requested.join(", ")}`);
    await offline.close();
  }
  check(urls.every((u) => !process.env.MODELWATCH_TOKEN || !u.includes(process.env.MODELWATCH_TOKEN)), "the token appeared in a request URL");
  check(urls.every((u) => u.startsWith(base) || u.startsWith("data:")), `a request left the server: ${urls.find((u) => !u.startsWith(base))}`);
  seen.consoleErrors = consoleErrors;
  check(consoleErrors.length === 0, `console errors: ${consoleErrors.join(" | ")}`);
  console.log(JSON.stringify(seen));
  await browser.close();
} catch (e) {
  await shot("failure").catch(() => {});
  console.log(JSON.stringify(Object.assign(seen, { consoleErrors })));
  console.error(`dashboard test failed: ${e.message}`);
  await browser.close();
  process.exit(1);
}
