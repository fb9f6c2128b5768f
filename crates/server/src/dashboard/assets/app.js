// modelwatch dashboard: a single page over the public HTTP API (API.md). No build step,
// no dependency but uPlot. Routes live in the URL fragment (#/model/NAME/drift?...), so
// every view can be bookmarked; the API token never goes into a URL.
"use strict";

const TOKEN_KEY = "modelwatch.token";
const HOUR = 3600e3;
const DAY = 24 * HOUR;
const HEADLINE = {
  binary_classification: ["accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"],
  multiclass_classification: ["accuracy", "f1_macro", "precision_macro", "recall_macro", "log_loss"],
  regression: ["mae", "rmse", "r2", "mape"],
};
const COLORS = ["#2563eb", "#e8590c", "#12b886", "#7048e8", "#c2255c", "#495057"];

// Charts drawn on the current page, by id: the browser tests read the point counts.
window.modelwatchCharts = {};

// ---- API access -----------------------------------------------------------------------

class AuthNeeded extends Error {}

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || localStorage.getItem(TOKEN_KEY);
}

async function api(path, options = {}) {
  const headers = Object.assign({ Accept: "application/json" }, options.headers || {});
  const t = token();
  if (t) headers.Authorization = "Bearer " + t;
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (response.status === 401) {
    askForToken(t ? "The token was refused: it is unknown or revoked." : "");
    throw new AuthNeeded("token needed");
  }
  const text = await response.text();
  const body = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const e = body && body.error;
    throw new Error(e ? `${e.message}${e.field ? ` (${e.field})` : ""}` : `HTTP ${response.status}`);
  }
  return body;
}

// Runs `tasks` (functions returning promises) with at most `limit` at a time.
async function pool(tasks, limit = 6) {
  const results = new Array(tasks.length);
  let next = 0;
  async function worker() {
    while (next < tasks.length) {
      const i = next++;
      try {
        results[i] = await tasks[i]();
      } catch (e) {
        results[i] = e;
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

function askForToken(message) {
  const dialog = document.getElementById("login");
  document.getElementById("login-error").textContent = message;
  if (!dialog.open) dialog.showModal();
}

document.getElementById("login-form").addEventListener("submit", () => {
  const value = document.getElementById("login-token").value.trim();
  if (!value) return;
  const remember = document.getElementById("login-remember").checked;
  sessionStorage.setItem(TOKEN_KEY, value);
  if (remember) localStorage.setItem(TOKEN_KEY, value);
  document.getElementById("login-token").value = "";
  route();
});

document.getElementById("sign-out").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(TOKEN_KEY);
  route();
});

// ---- small helpers --------------------------------------------------------------------

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attributes)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function fmt(v, digits = 4) {
  if (v === null || v === undefined) return "—";
  if (typeof v !== "number") return String(v);
  if (Number.isInteger(v)) return v.toLocaleString("en");
  return v.toFixed(digits);
}

function iso(ms) {
  return new Date(ms).toISOString().replace(".000Z", "Z");
}

function parseTime(text) {
  return text ? Date.parse(text) : NaN;
}

function page(...children) {
  const app = document.getElementById("app");
  for (const id of Object.keys(window.modelwatchCharts)) delete window.modelwatchCharts[id];
  app.replaceChildren(...children);
  return app;
}

function failure(e) {
  if (e instanceof AuthNeeded) return el("p", { class: "muted" }, "Waiting for a token…");
  return el("p", { class: "error" }, e.message || String(e));
}

function queryOf(hash) {
  const i = hash.indexOf("?");
  return new URLSearchParams(i >= 0 ? hash.slice(i + 1) : "");
}

function sparkline(values) {
  const points = values.map((v, i) => [i, v]).filter(([, v]) => v !== null && v !== undefined);
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", "0 0 140 28");
  if (points.length === 0) return svg;
  const ys = points.map(([, v]) => v);
  const lo = Math.min(...ys), hi = Math.max(...ys);
  const n = Math.max(values.length - 1, 1);
  const d = points
    .map(([i, v], k) => `${k ? "L" : "M"}${((i / n) * 138 + 1).toFixed(1)} ${(hi === lo ? 14 : 26 - ((v - lo) / (hi - lo)) * 24).toFixed(1)}`)
    .join(" ");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", d);
  svg.append(path);
  return svg;
}

// ---- charts ---------------------------------------------------------------------------

// A horizontal line per threshold, drawn after the series.
function thresholdPlugin(thresholds) {
  return {
    hooks: {
      draw: (u) => {
        const ctx = u.ctx;
        ctx.save();
        ctx.strokeStyle = "#b42318";
        ctx.setLineDash([6, 4]);
        ctx.lineWidth = 1.5 * devicePixelRatio;
        for (const t of thresholds) {
          const y = u.valToPos(t.value, "y", true);
          ctx.beginPath();
          ctx.moveTo(u.bbox.left, y);
          ctx.lineTo(u.bbox.left + u.bbox.width, y);
          ctx.stroke();
          ctx.fillStyle = "#b42318";
          ctx.font = `${11 * devicePixelRatio}px system-ui`;
          ctx.textAlign = "right";
          ctx.fillText(t.label, u.bbox.left + u.bbox.width - 4, y - 4);
        }
        ctx.restore();
      },
    },
  };
}

// A time-series chart: `series` is [{label, values, band?: {lower, upper}}], times in ms
// (steps when `xTime` is false).
// A band (a 95% interval) is drawn as two thin lines and the area between them.
function lineChart(id, title, times, series, thresholds = [], xTime = true) {
  const bands = [];
  const drawn = [];
  series.forEach((s, i) => {
    drawn.push({ label: s.label, values: s.values, color: COLORS[i % COLORS.length] });
    if (s.band) {
      const color = COLORS[i % COLORS.length];
      const upper = drawn.push({ label: `${s.label} upper`, values: s.band.upper, color, thin: true });
      const lower = drawn.push({ label: `${s.label} lower`, values: s.band.lower, color, thin: true });
      bands.push({ series: [upper, lower], fill: color + "22" });
    }
  });
  series = drawn;
  const card = el("div", { class: "card", "data-chart": id }, el("h3", {}, title));
  const holder = el("div");
  card.append(holder);
  const points = series.reduce((n, s) => n + s.values.filter((v) => v !== null).length, 0);
  window.modelwatchCharts[id] = { points, series: series.length, bands: bands.length, labels: series.map((s) => s.label) };
  const all = series.flatMap((s) => s.values).filter((v) => v !== null).concat(thresholds.map((t) => t.value));
  const options = {
    width: 430,
    height: 190,
    plugins: [thresholdPlugin(thresholds)],
    scales: {
      x: { time: xTime },
      y: {
        range: () => {
          if (all.length === 0) return [0, 1];
          let lo = Math.min(...all), hi = Math.max(...all);
          if (lo === hi) { lo -= 1; hi += 1; }
          const pad = (hi - lo) * 0.08;
          return [lo - pad, hi + pad];
        },
      },
    },
    series: [{}].concat(series.map((s) => (s.thin
      ? { label: s.label, stroke: s.color + "88", width: 0.8, spanGaps: false, points: { show: false } }
      : { label: s.label, stroke: s.color, width: 1.6, spanGaps: false, points: { size: 4 } }))),
    bands,
    axes: [{}, { size: 56 }],
  };
  const data = [xTime ? times.map((t) => t / 1000) : times].concat(series.map((s) => s.values));
  requestAnimationFrame(() => new uPlot(options, data, holder));
  return card;
}

// Reference and current shares on the same bins, as bars side by side.
function distributionChart(id, distribution) {
  const card = el("div", { class: "card", "data-chart": id });
  const total = (c) => c.reduce((a, b) => a + b, 0) || 1;
  const share = (c) => c.map((n) => n / total(c));
  const reference = share(distribution.reference);
  const current = share(distribution.current);
  const names = distribution.kind === "histogram"
    ? distribution.reference.map((_, i) => `${fmt(distribution.edges[i], 3)} – ${fmt(distribution.edges[i + 1], 3)}`)
    : distribution.categories;
  window.modelwatchCharts[id] = { points: reference.length + current.length, series: 2 };
  const xs = names.map((_, i) => i);
  const bars = uPlot.paths.bars({ size: [0.42, 60], align: 0 });
  const options = {
    width: 520,
    height: 220,
    scales: { x: { time: false, range: [-0.6, names.length - 0.4] }, y: { range: [0, Math.max(...reference, ...current, 0.01) * 1.1] } },
    axes: [
      {
        splits: () => xs.filter((i) => i % Math.ceil(xs.length / 6) === 0),
        values: (u, splits) => splits.map((i) => (distribution.kind === "histogram" ? fmt(distribution.edges[i], 2) : String(names[i]).slice(0, 14))),
        size: 36,
      },
      { values: (u, splits) => splits.map((v) => `${(v * 100).toFixed(0)}%`), size: 48 },
    ],
    series: [
      { label: "bin", value: (u, i) => (i === null ? "" : names[i]) },
      { label: "reference", fill: "rgba(120,132,148,0.6)", stroke: "#64748b", paths: uPlot.paths.bars({ size: [0.4, 60], align: -1 }), points: { show: false }, value: (u, v) => (v === null ? "" : `${(v * 100).toFixed(1)}%`) },
      { label: "current", fill: "rgba(232,89,12,0.6)", stroke: "#e8590c", paths: bars, points: { show: false }, value: (u, v) => (v === null ? "" : `${(v * 100).toFixed(1)}%`) },
    ],
  };
  requestAnimationFrame(() => new uPlot(options, [xs, reference, current], card));
  return card;
}

// ---- range controls -------------------------------------------------------------------

// The range of a model page: explicit from/to in the fragment, else a preset measured
// back from the model's newest event (so replayed or simulated data shows too).
function resolveRange(params, newest) {
  const end = Number.isFinite(newest) ? Math.ceil((newest + 1) / HOUR) * HOUR : Math.ceil(Date.now() / HOUR) * HOUR;
  const preset = params.get("range") || "7d";
  let from = parseTime(params.get("from"));
  let to = parseTime(params.get("to"));
  if (!Number.isFinite(from) || !Number.isFinite(to) || from >= to) {
    to = end;
    const spans = { "24h": DAY, "7d": 7 * DAY, "30d": 30 * DAY, "90d": 90 * DAY };
    from = to - (spans[preset] || 7 * DAY);
  }
  let step = params.get("step") || "auto";
  if (step === "auto") {
    const span = to - from;
    step = span <= 2 * DAY ? "1h" : span <= 14 * DAY ? "6h" : "1d";
  }
  return { from, to, step, preset: params.has("from") ? "custom" : preset, version: params.get("version") || "" };
}

function stepMs(step) {
  const m = /^(\d+)([mhd])$/.exec(step);
  return m ? Number(m[1]) * { m: 60e3, h: HOUR, d: DAY }[m[2]] : DAY;
}

function rangeQuery(range, withStep = true) {
  const q = new URLSearchParams({ from: iso(range.from), to: iso(range.to) });
  if (withStep) q.set("step", range.step);
  if (range.version) q.set("version", range.version);
  return q.toString();
}

function controls(model, tab, range, versions) {
  const go = (changes) => {
    const q = new URLSearchParams({ range: range.preset, step: range.step });
    if (range.version) q.set("version", range.version);
    if (range.preset === "custom") { q.set("from", iso(range.from)); q.set("to", iso(range.to)); }
    for (const [k, v] of Object.entries(changes)) {
      if (v === null) q.delete(k); else q.set(k, v);
    }
    location.hash = `#/model/${encodeURIComponent(model)}/${tab}?${q}`;
  };
  const localValue = (ms) => iso(ms).slice(0, 16);
  const presetSelect = el("select", { id: "range", onchange: (e) => go({ range: e.target.value, from: null, to: null, step: "auto" }) },
    ["24h", "7d", "30d", "90d", "custom"].map((p) => el("option", { value: p, selected: p === range.preset }, p === "custom" ? "custom" : `last ${p}`)));
  const fromInput = el("input", { type: "datetime-local", id: "from", value: localValue(range.from) });
  const toInput = el("input", { type: "datetime-local", id: "to", value: localValue(range.to) });
  const apply = el("button", { type: "button", id: "apply-range", onclick: () => {
    const from = Date.parse(fromInput.value + ":00Z"), to = Date.parse(toInput.value + ":00Z");
    if (Number.isFinite(from) && Number.isFinite(to) && from < to) go({ range: "custom", from: iso(from), to: iso(to) });
  } }, "Apply");
  const stepSelect = el("select", { id: "step", onchange: (e) => go({ step: e.target.value }) },
    ["auto", "5m", "1h", "6h", "1d"].map((s) => el("option", { value: s, selected: s === range.step }, s)));
  const versionSelect = el("select", { id: "version", onchange: (e) => go({ version: e.target.value || null }) },
    el("option", { value: "" }, "all versions"),
    versions.map((v) => el("option", { value: v, selected: v === range.version }, v)));
  return el("div", { class: "controls" },
    el("label", {}, "range", presetSelect),
    el("label", {}, "from (UTC)", fromInput),
    el("label", {}, "to (UTC)", toInput),
    el("label", {}, "\u00a0", apply),
    el("label", {}, "step", stepSelect),
    el("label", {}, "version", versionSelect),
    el("span", { class: "muted", id: "range-shown" }, `${iso(range.from)} → ${iso(range.to)}, step ${range.step}`));
}

// ---- pages ----------------------------------------------------------------------------

async function overview() {
  const table = el("table", { id: "models" },
    el("tr", {}, el("th", { class: "l" }, "model"), el("th", { class: "l" }, "task"), el("th", {}, "firing alerts"),
      el("th", { class: "l" }, "last event"), el("th", {}, "events/h (last 24h)"), el("th", {}, "headline metric"), el("th", { class: "l" }, "last 24h")));
  page(el("h1", {}, "Models"), table);
  const [{ models }, { alerts }] = await Promise.all([api("/api/v1/models"), api("/api/v1/alerts?state=firing&limit=1000")]);
  const firing = {};
  for (const a of alerts) firing[a.model] = (firing[a.model] || 0) + 1;
  if (models.length === 0) table.after(el("p", { class: "muted" }, "No model yet. Create one with PUT /api/v1/models/{name}."));
  const rows = models.map((m) => {
    const headline = HEADLINE[m.task][0];
    const cells = {
      last: el("td", { class: "l" }, "…"), rate: el("td", {}, "…"), metric: el("td", {}, "…"), spark: el("td", { class: "l" }),
    };
    const alertCell = el("td", {}, firing[m.name] ? el("span", { class: "badge firing" }, `${firing[m.name]} firing`) : el("span", { class: "badge ok" }, "none"));
    table.append(el("tr", { class: "clickable", "data-model": m.name, onclick: () => { location.hash = `#/model/${encodeURIComponent(m.name)}/performance`; } },
      el("td", { class: "l" }, el("a", { href: `#/model/${encodeURIComponent(m.name)}/performance` }, m.name)),
      el("td", { class: "l" }, m.task), alertCell, cells.last, cells.rate, cells.metric, cells.spark));
    return { m, headline, cells };
  });
  await pool(rows.map(({ m, headline, cells }) => async () => {
    const detail = await api(`/api/v1/models/${encodeURIComponent(m.name)}`);
    const newest = parseTime(detail.stats.newest_event);
    cells.last.textContent = detail.stats.newest_event || "no events";
    if (!Number.isFinite(newest)) { cells.rate.textContent = "—"; cells.metric.textContent = "—"; return; }
    const to = Math.ceil((newest + 1) / HOUR) * HOUR;
    const series = await api(`/api/v1/models/${encodeURIComponent(m.name)}/metrics?from=${iso(to - DAY)}&to=${iso(to)}&step=1h`);
    cells.rate.textContent = fmt(Math.round(series.summary.count / 24));
    cells.metric.textContent = `${headline} ${fmt(series.summary[headline])}`;
    cells.spark.append(sparkline(series.series.map((p) => p.metrics[headline])));
  }));
  document.body.dataset.ready = "overview";
}

async function alertsPage() {
  page(el("h1", {}, "Alerts"), el("div", { id: "alerts-body" }, el("p", { class: "muted" }, "Loading…")));
  const body = document.getElementById("alerts-body");
  body.replaceChildren(...(await alertSections(null)), ...(await channelSections()));
  document.body.dataset.ready = "alerts";
}

// Where a channel delivers, in a few words (secrets are hidden by the server).
function channelTarget(c) {
  switch (c.type) {
    case "email": return `${c.smtp} → ${[].concat(c.to || []).join(", ")}`;
    case "twilio": return `${c.mode === "call" ? "call" : "SMS"} ${[].concat(c.to || []).join(", ")} from ${c.from}`;
    default: return c.url || "";
  }
}

// A route and its children as nested lists: matchers → channels, with the inherited timing.
function routeItem(route) {
  const matchers = route.matchers.length ? route.matchers.join(", ") : "every alert";
  return el("li", { "data-route": route.path },
    el("code", {}, matchers), " → ", el("strong", {}, route.channels.join(", ") || "nobody"),
    el("span", { class: "muted" }, ` group_by ${route.group_by.join(",") || "—"}, wait ${route.group_wait}, interval ${route.group_interval}, repeat ${route.repeat_interval}${route.continue ? ", continue" : ""}`),
    route.routes.length ? el("ul", {}, route.routes.map(routeItem)) : null);
}

// Channels and the routing tree, read-only; left out for tokens that may not see them.
async function channelSections() {
  let channels, routing;
  try {
    [{ channels }, routing] = await Promise.all([api("/api/v1/channels"), api("/api/v1/routing")]);
  } catch (e) {
    if (e instanceof AuthNeeded) throw e;
    return [];
  }
  const inhibit = routing.inhibit_rules || [];
  return [
    el("h2", {}, "Channels"),
    channels.length
      ? el("table", { class: "channels" },
        el("tr", {}, ["name", "type", "delivers to"].map((h) => el("th", { class: "l" }, h))),
        channels.map((c) => el("tr", { "data-channel": c.name }, el("td", { class: "l" }, c.name),
          el("td", { class: "l" }, el("span", { class: "badge" }, c.type)), el("td", { class: "l" }, channelTarget(c)))))
      : el("p", { class: "muted" }, "No channel yet."),
    el("h2", {}, "Routing by urgency"),
    routing.resolved
      ? el("ul", { class: "routing" }, routeItem(routing.resolved))
      : el("p", { class: "muted" }, "No routing tree: alerts of rules without channels are not notified. Set one with PUT /api/v1/routing."),
    inhibit.length
      ? el("table", { class: "inhibit" },
        el("tr", {}, ["while firing", "mutes", "with equal"].map((h) => el("th", { class: "l" }, h))),
        inhibit.map((r) => el("tr", {}, el("td", { class: "l" }, r.source_matchers.join(", ")),
          el("td", { class: "l" }, r.target_matchers.join(", ")), el("td", { class: "l" }, (r.equal || []).join(", ") || "—"))))
      : null,
  ].filter((x) => x !== null);
}

async function alertSections(model) {
  const q = model ? `&model=${encodeURIComponent(model)}` : "";
  const [{ alerts }, { events }] = await Promise.all([api(`/api/v1/alerts?limit=200${q}`), api(`/api/v1/events?limit=100${q}`)]);
  const firing = alerts.filter((a) => a.state === "firing");
  const table = (list, withSilence) => el("table", { class: "alerts" },
    el("tr", {}, ["rule", "model", "state", "value", "threshold", "starts at", "ends at", "silenced by", ""].map((h) => el("th", { class: "l" }, h))),
    list.map((a) => el("tr", { "data-alert": a.id },
      el("td", { class: "l" }, a.rule), el("td", { class: "l" }, a.model),
      el("td", { class: "l" }, el("span", { class: `badge ${a.state}` }, a.state)),
      el("td", {}, fmt(a.value)), el("td", {}, fmt(a.threshold)),
      el("td", { class: "l" }, a.starts_at), el("td", { class: "l" }, a.ends_at || "—"),
      el("td", { class: "l" }, (a.silenced_by || []).join(", ") || "—"),
      el("td", { class: "l" }, withSilence && !(a.silenced_by || []).length ? silenceButton(a) : ""))));
  return [
    el("h2", {}, `Firing (${firing.length})`),
    firing.length ? table(firing, true) : el("p", { class: "muted" }, "Nothing is firing."),
    el("h2", {}, "Recent alerts"),
    alerts.length ? table(alerts, false) : el("p", { class: "muted" }, "No alert yet."),
    el("h2", {}, "Event log"),
    events.length
      ? el("table", { class: "events" },
        el("tr", {}, ["at", "kind", "rule", "model", "detail"].map((h) => el("th", { class: "l" }, h))),
        events.map((e) => el("tr", {}, el("td", { class: "l" }, e.at), el("td", { class: "l" }, e.kind), el("td", { class: "l" }, e.rule || "—"),
          el("td", { class: "l" }, e.model || "—"), el("td", { class: "l" }, e.detail ? JSON.stringify(e.detail).slice(0, 160) : ""))))
      : el("p", { class: "muted" }, "No event yet."),
  ];
}

function silenceButton(alert) {
  const hours = el("select", { "aria-label": "silence for" }, [1, 4, 24].map((h) => el("option", { value: h }, `${h}h`)));
  const status = el("span", { class: "muted" });
  const button = el("button", { type: "button", class: "silence", onclick: async () => {
    const id = `ui-${alert.rule}-${Date.now().toString(36)}`.slice(0, 64).toLowerCase().replace(/[^a-z0-9_.-]/g, "-");
    const body = {
      matchers: { alertname: alert.labels.alertname, model: alert.model },
      ends_at: iso(Date.now() + Number(hours.value) * HOUR),
      comment: `silenced from the dashboard (${alert.rule})`,
    };
    try {
      await api(`/api/v1/silences/${encodeURIComponent(id)}`, { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      status.textContent = `silenced as ${id}`;
      button.disabled = true;
      route();
    } catch (e) {
      status.textContent = e.message;
      status.className = "error";
    }
  } }, "Silence");
  return el("span", {}, button, " for ", hours, " ", status);
}

async function modelPage(name, tab, params) {
  const detail = await api(`/api/v1/models/${encodeURIComponent(name)}`);
  const newest = parseTime(detail.stats.newest_event);
  const range = resolveRange(params, newest);
  const tabs = ["performance", "drift", "quality", "confusion", "correlations", "internals", "logs", "alerts"];
  if ((detail.features || []).some((f) => f.geo)) tabs.splice(3, 0, "map");
  const keep = location.hash.includes("?") ? location.hash.slice(location.hash.indexOf("?")) : "";
  const content = el("div", { id: "tab-content" }, el("p", { class: "muted" }, "Loading…"));
  page(
    el("h1", {}, name, " ", el("span", { class: "muted" }, `${detail.task} · ${fmt(detail.stats.predictions)} predictions · ${fmt(detail.stats.labelled)} labelled · newest event ${detail.stats.newest_event || "none"}`)),
    el("nav", { class: "tabs" }, tabs.map((t) => el("a", { href: `#/model/${encodeURIComponent(name)}/${t}${keep}`, class: t === tab ? "active" : "", "data-tab": t }, t))),
    tab === "alerts" || tab === "internals" ? "" : controls(name, tab, range, detail.stats.versions || []),
    content);
  const render = { performance: performanceTab, drift: driftTab, quality: qualityTab, confusion: confusionTab, map: mapTab, correlations: correlationsTab, internals: internalsTab, logs: logsTab, alerts: modelAlertsTab }[tab] || performanceTab;
  content.replaceChildren(...(await render(detail, range, params)));
  document.body.dataset.ready = `model-${tab}`;
}

async function performanceTab(model, range) {
  const [metrics, rules] = await Promise.all([
    api(`/api/v1/models/${encodeURIComponent(model.name)}/metrics?${rangeQuery(range)}`),
    api("/api/v1/rules"),
  ]);
  const times = metrics.series.map((p) => Date.parse(p.start));
  const values = (name) => metrics.series.map((p) => (typeof p.metrics[name] === "number" ? p.metrics[name] : null));
  const thresholds = (name) => rules.rules
    .filter((r) => r.model === model.name && r.metric === name && r.condition && typeof r.condition.threshold === "number")
    .map((r) => ({ value: r.condition.threshold, label: `${r.name}: ${r.condition.op} ${r.condition.threshold}` }));
  const summary = el("table", { id: "summary" }, el("tr", {}, el("th", { class: "l" }, "metric"), el("th", {}, "value over the range")),
    Object.entries(metrics.summary).filter(([k]) => k !== "confusion_matrix").map(([k, v]) => el("tr", {}, el("td", { class: "l" }, k), el("td", {}, fmt(v)))));
  const headline = HEADLINE[model.task].filter((m) => m in metrics.summary);
  // A metric with its 95% interval, when the answer has one.
  const withBand = (m) => (`${m}_lower` in metrics.summary
    ? { label: m, values: values(m), band: { lower: values(`${m}_lower`), upper: values(`${m}_upper`) } }
    : { label: m, values: values(m) });
  // The realised line, and the estimated one (CBPE) on the same chart when there is one.
  const estimatedName = { precision_macro: "precision", recall_macro: "recall", f1_macro: "f1" };
  const metricLines = (m) => {
    const estimated = `estimated_${estimatedName[m] || m}`;
    return estimated in metrics.summary ? [withBand(m), withBand(estimated)] : [withBand(m)];
  };
  return [
    el("div", { class: "grid" },
      headline.map((m) => lineChart(`metric-${m}`, m, times, metricLines(m), thresholds(m).concat(thresholds(`estimated_${m}`)))),
      lineChart("counts", "predictions and labels per window", times, [{ label: "count", values: values("count") }, { label: "labelled_count", values: values("labelled_count") }],
        thresholds("count").concat(thresholds("labelled_count"))),
      lineChart("latency", "latency (ms)", times, ["latency_p50", "latency_p95", "latency_p99"].map((m) => ({ label: m, values: values(m) })),
        thresholds("latency_p95").concat(thresholds("latency_p99"))),
      lineChart("error-rate", "error rate", times, [withBand("error_rate")], thresholds("error_rate"))),
    ...operationsCharts(metrics.summary, times, values, thresholds),
    el("h2", {}, "Over the whole range"),
    summary,
  ];
}

// The served model's resource use (its telemetry) and its log errors and crashes, when
// it sends them: the metrics answer has these names only then.
function operationsCharts(summary, times, values, thresholds) {
  const lines = (names) => names.map((m) => ({ label: m, values: values(m) }));
  const limits = (names) => names.flatMap((m) => thresholds(m));
  const parts = [];
  if ("cpu_percent_mean" in summary) {
    parts.push(el("section", { id: "telemetry-panel" },
      el("h2", {}, "Resource use"),
      el("div", { class: "grid" },
        lineChart("resource-cpu", "CPU (% of a core)", times, lines(["cpu_percent_mean", "cpu_percent_max"]), limits(["cpu_percent_mean", "cpu_percent_max"])),
        lineChart("resource-memory", "memory (bytes)", times, lines(["memory_bytes_max", "gpu_memory_bytes_max"]), limits(["memory_bytes_max", "gpu_memory_bytes_max"])),
        lineChart("resource-gpu", "GPU utilisation", times, lines(["gpu_utilization_mean"]), limits(["gpu_utilization_mean"])),
        lineChart("resource-instances", "instances", times, lines(["instances"]), limits(["instances"])))));
  }
  if ("crashes" in summary) {
    parts.push(el("div", { class: "grid" },
      lineChart("log-errors", "log errors and crashes", times, lines(["log_errors", "crashes"]), limits(["log_errors", "crashes"]))));
  }
  return parts;
}

// Ranks a drift entry: how far past (or short of) its threshold the statistic is.
function driftSeverity(f) {
  if (f.statistic === null) return -Infinity;
  const pValue = f.method === "ks" || f.method === "chi2";
  return pValue ? f.threshold / Math.max(f.statistic, 1e-300) : f.statistic / f.threshold;
}

async function driftTab(model, range, params) {
  if (!model.stats.reference) {
    return [el("p", { class: "muted" }, `No reference data set yet, so no drift: upload one with PUT /api/v1/models/${model.name}/reference.`)];
  }
  // One query: the drift of the whole range, and of each window (at most 60: the step
  // doubles until they fit) for the per-window chart.
  let step = stepMs(range.step);
  while ((range.to - range.from) / step > 60) step *= 2;
  const query = new URLSearchParams(rangeQuery(range, false));
  query.set("step", `${step / 60e3}m`);
  let drift;
  try {
    drift = await api(`/api/v1/models/${encodeURIComponent(model.name)}/drift?${query}`);
  } catch (e) {
    if (e instanceof AuthNeeded) throw e;
    return [el("p", { class: "muted" }, e.message)];
  }
  const entries = drift.features.concat([drift.prediction, drift.score].filter(Boolean));
  entries.sort((a, b) => (b.drifted === true) - (a.drifted === true) || driftSeverity(b) - driftSeverity(a));
  const selected = params.get("feature") || (entries[0] && entries[0].name);
  const detail = el("div", { id: "feature-detail" });
  const table = el("table", { id: "drift-table" },
    el("tr", {}, ["feature", "type", "method", "statistic", "threshold", "drifted"].map((h, i) => el("th", { class: i < 3 || i === 5 ? "l" : "" }, h))),
    entries.map((f) => el("tr", { class: `clickable${f.name === selected ? " selected" : ""}`, "data-feature": f.name, "data-drifted": String(f.drifted),
      onclick: () => showFeature(drift.series, f, detail, table) },
    el("td", { class: "l" }, f.name), el("td", { class: "l" }, f.type), el("td", { class: "l" }, f.method),
    el("td", {}, fmt(f.statistic)), el("td", {}, fmt(f.threshold)),
    el("td", { class: `l${f.drifted ? " bad" : ""}` }, f.drifted === null ? "—" : f.drifted ? "drifted" : "no"))));
  const head = el("p", {}, `Dataset drift: ${drift.dataset_drift ? "yes" : "no"} — ${drift.drifted_features} of ${drift.features_total} features drifted (reference ${fmt(drift.reference_count)} rows, current ${fmt(drift.current_count)} rows).`);
  const chosen = entries.find((f) => f.name === selected);
  if (chosen) showFeature(drift.series, chosen, detail, table);
  return [head, el("div", { class: "split" }, table, detail)];
}

// A feature's distributions, and its statistic in each window of the drift series.
function showFeature(series, feature, detail, table) {
  for (const row of table.querySelectorAll("tr[data-feature]")) row.classList.toggle("selected", row.dataset.feature === feature.name);
  detail.replaceChildren(el("h2", {}, `${feature.name}: reference and current`),
    feature.distribution ? distributionChart(`distribution-${feature.name}`, feature.distribution) : el("p", { class: "muted" }, "No reference values for this feature."));
  const starts = series.map((a) => parseTime(a.start));
  const values = series.map((a) => {
    const f = a.features.concat([a.prediction, a.score].filter(Boolean)).find((x) => x.name === feature.name);
    return f && typeof f.statistic === "number" ? f.statistic : null;
  });
  window.modelwatchDriftSeries = { feature: feature.name, starts: series.map((a) => a.start), values };
  detail.append(lineChart(`drift-${feature.name}`, `${feature.method} of ${feature.name} per window`, starts, [{ label: feature.method, values }],
    [{ value: feature.threshold, label: `threshold ${feature.threshold}` }]));
}

async function qualityTab(model, range) {
  const quality = await api(`/api/v1/models/${encodeURIComponent(model.name)}/quality?${rangeQuery(range, false)}`);
  const bad = (v) => typeof v === "number" && v > 0;
  return [
    el("p", {}, `${fmt(quality.rows)} rows; ${fmt(quality.unknown_features)} unknown feature values.`),
    el("table", { id: "quality-table" },
      el("tr", {}, ["feature", "type", "missing", "missing share", "type errors", "min", "mean", "max", "out of range", "distinct", "new categories"].map((h, i) => el("th", { class: i < 2 || i === 10 ? "l" : "" }, h))),
      quality.features.map((f) => el("tr", { "data-feature": f.name },
        el("td", { class: "l" }, f.name), el("td", { class: "l" }, f.type),
        el("td", { class: bad(f.missing) ? "bad" : "" }, fmt(f.missing)), el("td", {}, fmt(f.missing_share)),
        el("td", { class: bad(f.type_errors) ? "bad" : "" }, fmt(f.type_errors)),
        el("td", {}, fmt(f.min)), el("td", {}, fmt(f.mean)), el("td", {}, fmt(f.max)),
        el("td", { class: bad(f.out_of_range) ? "bad" : "" }, fmt(f.out_of_range)),
        el("td", {}, fmt(f.distinct)),
        el("td", { class: `l${(f.new_categories || []).length ? " bad" : ""}` }, (f.new_categories || []).join(", ") || "—")))),
  ];
}

async function confusionTab(model, range) {
  const metrics = await api(`/api/v1/models/${encodeURIComponent(model.name)}/metrics?${rangeQuery(range, false)}`);
  const cm = metrics.summary.confusion_matrix;
  if (!cm) return [el("p", { class: "muted" }, model.task === "regression" ? "A regression model has no confusion matrix." : "No labelled predictions in the range.")];
  const largest = Math.max(1, ...cm.matrix.flat());
  window.modelwatchCharts.confusion = { points: cm.matrix.flat().length, series: 1 };
  return [
    el("p", {}, "Rows: true class; columns: predicted class. Darker cells hold more predictions."),
    el("table", { class: "heat", id: "confusion" },
      el("tr", {}, el("th", { class: "l" }, "true \\ predicted"), cm.labels.map((l) => el("th", {}, l))),
      cm.matrix.map((row, i) => el("tr", {}, el("th", { class: "l" }, cm.labels[i]),
        row.map((n) => {
          const light = 100 - 55 * (n / largest);
          return el("td", { style: `background: hsl(217, 80%, ${light.toFixed(0)}%); color: ${light < 62 ? "#fff" : "#1d232b"}` }, fmt(n));
        })))),
  ];
}

// ---- maps -------------------------------------------------------------------------------

let worldGeometry = null;

// Countries coloured by rows in the range, by how their share moved against the reference
// (orange: more than in the reference, blue: less), or, when the feature is also a
// segment, by a metric of each country's predictions.
async function mapTab(model, range, params) {
  const features = model.features.filter((f) => f.geo).map((f) => f.name);
  const feature = features.includes(params.get("feature")) ? params.get("feature") : features[0];
  const segmented = (model.segments || []).includes(feature);
  const metricNames = segmented ? HEADLINE[model.task] || [] : [];
  const colours = [["count", "rows"], ["share_change", "share change against the reference"]]
    .concat(metricNames.map((m) => [`metric:${m}`, m]));
  const colour = colours.some(([v]) => v === params.get("colour")) ? params.get("colour") : "count";
  const base = `/api/v1/models/${encodeURIComponent(model.name)}`;
  const [map, geometry, perCountry] = await Promise.all([
    api(`${base}/map?feature=${encodeURIComponent(feature)}&${rangeQuery(range, false)}`),
    worldGeometry || api("/assets/world-110m.json").then((g) => (worldGeometry = g)),
    colour.startsWith("metric:") ? api(`${base}/metrics?segment=${encodeURIComponent(feature)}&${rangeQuery(range, false)}`) : null,
  ]);
  const go = (changes) => {
    const q = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) q.set(k, v);
    location.hash = `#/model/${encodeURIComponent(model.name)}/map?${q}`;
  };
  const byCode = new Map(map.countries.map((c) => [c.code, c]));
  const metric = colour.startsWith("metric:") ? colour.slice(7) : null;
  // A segment value is the feature's value as sent: codes in any case name one country.
  const metricOf = new Map();
  for (const g of perCountry ? perCountry.groups : []) {
    const value = g.summary[metric];
    if (typeof value === "number") metricOf.set(String(g.value).toUpperCase(), value);
  }
  const lo = Math.min(...metricOf.values()), hi = Math.max(...metricOf.values());
  const most = Math.max(1, ...map.countries.map((c) => c.count));
  const widest = Math.max(1e-9, ...map.countries.map((c) => Math.abs(c.share_change || 0)));
  const empty = "hsl(217, 20%, 94%)";
  const fill = (code, c) => {
    if (metric) {
      if (!metricOf.has(code)) return empty;
      const t = hi > lo ? (metricOf.get(code) - lo) / (hi - lo) : 1;
      return `hsl(150, 55%, ${(85 - 50 * t).toFixed(0)}%)`;
    }
    if (!c || c.count === 0) return empty;
    if (colour === "count") return `hsl(217, 70%, ${(88 - (53 * c.count) / most).toFixed(0)}%)`;
    const d = c.share_change ?? 0;
    return `hsl(${d >= 0 ? 24 : 217}, 80%, ${(94 - (54 * Math.abs(d)) / widest).toFixed(0)}%)`;
  };
  const svg = svgEl("svg", { class: "world", id: "world-map", viewBox: `0 0 ${geometry.width} ${geometry.height}`, role: "img", "aria-label": `${metric || "rows"} of ${feature} per country` });
  let drawn = 0;
  for (const [code, country] of Object.entries(geometry.countries)) {
    const c = byCode.get(code);
    const path = svgEl("path", { d: country.path, fill: fill(code, c), "data-code": code });
    const title = svgEl("title");
    title.textContent = c
      ? `${country.name} (${code}): ${fmt(c.count)} rows, ${(100 * c.share).toFixed(1)}%` +
        (c.share_change == null ? "" : `, ${c.share_change >= 0 ? "+" : ""}${(100 * c.share_change).toFixed(1)} pt against the reference`) +
        (metric && metricOf.has(code) ? `, ${metric} ${fmt(metricOf.get(code), 3)}` : "")
      : `${country.name} (${code}): no rows`;
    path.append(title);
    svg.append(path);
    if (metric ? metricOf.has(code) : c && c.count > 0) drawn += 1;
  }
  window.modelwatchCharts["world-map"] = { countries: drawn, shapes: Object.keys(geometry.countries).length, colour };
  const ranked = map.countries.filter((c) => c.count > 0).sort((a, b) => b.count - a.count || a.code.localeCompare(b.code));
  const pct = (v) => (v == null ? "—" : `${(100 * v).toFixed(1)}%`);
  const headers = ["country", "rows", "share", "reference share", "change"].concat(metric ? [metric] : []);
  return [
    el("div", { class: "controls" },
      el("label", {}, "feature", el("select", { id: "map-feature", onchange: (e) => go({ feature: e.target.value }) },
        features.map((f) => el("option", { value: f, selected: f === feature }, f)))),
      el("label", {}, "colour by", el("select", { id: "map-colour", onchange: (e) => go({ colour: e.target.value }) },
        colours.map(([v, t]) => el("option", { value: v, selected: v === colour }, t))))),
    el("div", { class: "card" }, svg,
      el("p", { class: "muted" }, `${fmt(map.not_a_country)} rows name no country; ${fmt(map.missing)} have none. Natural Earth 1:110m.` +
        (metric ? ` ${metric}: ${fmt(lo, 3)} (lightest) to ${fmt(hi, 3)} (darkest).` : ""))),
    el("table", { id: "map-countries" },
      el("tr", {}, headers.map((h) => el("th", {}, h))),
      ranked.slice(0, 20).map((c) => el("tr", { "data-code": c.code },
        el("td", {}, geometry.countries[c.code] ? `${geometry.countries[c.code].name} (${c.code})` : c.code),
        el("td", {}, fmt(c.count)), el("td", {}, pct(c.share)), el("td", {}, pct(c.reference_share)),
        el("td", {}, c.share_change == null ? "—" : `${c.share_change >= 0 ? "+" : ""}${(100 * c.share_change).toFixed(1)} pt`),
        metric ? el("td", {}, metricOf.has(c.code) ? fmt(metricOf.get(c.code), 3) : "—") : ""))),
  ];
}

// ---- correlations ----------------------------------------------------------------------

// A Pearson value as a cell colour: blue for positive, red for negative, white at 0.
function correlationColour(r) {
  if (typeof r !== "number") return "background: #f1f3f5; color: #868e96";
  const light = 100 - 50 * Math.abs(r);
  return `background: hsl(${r >= 0 ? 217 : 0}, 75%, ${light.toFixed(0)}%); color: ${light < 65 ? "#fff" : "#1d232b"}`;
}

function heatmap(id, names, matrix) {
  window.modelwatchCharts[id] = { points: names.length * names.length, series: 1 };
  return el("table", { class: "heat", id },
    el("tr", {}, el("th", { class: "l" }, ""), names.map((n) => el("th", {}, n))),
    matrix.map((row, i) => el("tr", {}, el("th", { class: "l" }, names[i]),
      row.map((r, j) => el("td", { style: correlationColour(r), title: `${names[i]} · ${names[j]}: ${fmt(r)}` }, fmt(r, 2))))));
}

// The sampled points of two columns as an SVG scatter plot.
function scatterChart(id, sample) {
  const width = 520, height = 360, pad = 44;
  const card = el("div", { class: "card", "data-chart": id },
    el("h3", {}, `${sample.y} against ${sample.x} `, el("span", { class: "muted" }, `${fmt(sample.points.length)} of ${fmt(sample.rows)} rows (a uniform sample of at most ${fmt(sample.capacity)} per window)`)));
  window.modelwatchCharts[id] = { points: sample.points.length, series: 1 };
  if (sample.points.length === 0) {
    card.append(el("p", { class: "muted" }, "No rows with both values in the range."));
    return card;
  }
  const xs = sample.points.map((p) => p[0]), ys = sample.points.map((p) => p[1]);
  const span = (v) => { const lo = Math.min(...v), hi = Math.max(...v); return hi > lo ? [lo, hi] : [lo - 1, hi + 1]; };
  const [x0, x1] = span(xs), [y0, y1] = span(ys);
  const sx = (v) => pad + ((v - x0) / (x1 - x0)) * (width - 2 * pad);
  const sy = (v) => height - pad - ((v - y0) / (y1 - y0)) * (height - 2 * pad);
  const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, width, height, id });
  svg.append(svgEl("rect", { x: pad, y: pad, width: width - 2 * pad, height: height - 2 * pad, fill: "none", stroke: "#ced4da" }));
  for (const [x, y] of sample.points) svg.append(svgEl("circle", { cx: sx(x).toFixed(1), cy: sy(y).toFixed(1), r: 2.2, fill: COLORS[0], "fill-opacity": 0.55 }));
  const label = (x, y, text, anchor) => { const t = svgEl("text", { x, y, "font-size": 11, "text-anchor": anchor, fill: "#495057" }); t.textContent = text; svg.append(t); };
  label(pad, height - pad + 16, fmt(x0, 3), "start"); label(width - pad, height - pad + 16, fmt(x1, 3), "end");
  label(pad - 4, height - pad, fmt(y0, 3), "end"); label(pad - 4, pad + 10, fmt(y1, 3), "end");
  label(width / 2, height - 8, sample.x, "middle"); label(12, pad - 12, sample.y, "start");
  card.append(svg);
  return card;
}

async function correlationsTab(model, range, params) {
  const base = `/api/v1/models/${encodeURIComponent(model.name)}/correlations`;
  const answer = await api(`${base}?${rangeQuery(range, false)}`);
  const names = answer.features;
  if (names.length < 2) return [el("p", { class: "muted" }, "Fewer than two numeric columns: nothing to correlate.")];
  const pick = (key, fallback) => (names.includes(params.get(key)) ? params.get(key) : fallback);
  const x = pick("x", names[0]), y = pick("y", names[1]);
  const scatter = el("div", { id: "scatter" }, el("p", { class: "muted" }, "Loading…"));
  const draw = async (cx, cy) => {
    const q = new URLSearchParams(rangeQuery(range, false));
    q.set("x", cx); q.set("y", cy);
    try {
      scatter.replaceChildren(scatterChart("scatter-plot", await api(`${base}/sample?${q}`)));
    } catch (e) {
      if (e instanceof AuthNeeded) throw e;
      scatter.replaceChildren(el("p", { class: "muted" }, e.message));
    }
    document.body.dataset.scatter = `${cx}/${cy}`;
  };
  const selector = (id, value) => el("select", { id, onchange: () => draw(document.getElementById("scatter-x").value, document.getElementById("scatter-y").value) },
    names.map((n) => el("option", { value: n, selected: n === value }, n)));
  const change = typeof answer.max_abs_change === "number"
    ? `Largest change against the reference: ${fmt(answer.max_abs_change)} (${answer.pairs[0].a} · ${answer.pairs[0].b}).`
    : "No reference correlations to compare with.";
  const parts = [
    el("p", {}, `Pearson correlation over ${fmt(answer.rows)} rows, each pair over the rows where both are present. ${change}`),
    answer.left_out.length ? el("p", { class: "muted" }, `Left out (past the column cap): ${answer.left_out.join(", ")}.`) : "",
    el("div", { class: "split" },
      el("div", {}, el("h2", {}, "Current"), heatmap("correlation-heatmap", names, answer.pearson)),
      answer.reference_pearson ? el("div", {}, el("h2", {}, "Reference"), heatmap("reference-heatmap", names, answer.reference_pearson)) : ""),
    el("h2", {}, "Scatter plot"),
    el("div", { class: "controls" }, el("label", {}, "x", selector("scatter-x", x)), el("label", {}, "y", selector("scatter-y", y))),
    scatter,
  ];
  await draw(x, y);
  return parts;
}

// ---- logs -----------------------------------------------------------------------------

const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"];

// Message templates over time (the most frequent ones), their counts, and the newest
// records, searchable by level and text.
async function logsTab(model, range, params) {
  const name = encodeURIComponent(model.name);
  let step = stepMs(range.step);
  while ((range.to - range.from) / step > 60) step *= 2;
  const query = new URLSearchParams(rangeQuery(range, false));
  query.set("step", `${step / 60e3}m`);
  const search = new URLSearchParams(rangeQuery(range, false));
  search.set("limit", "100");
  for (const key of ["level", "q"]) if (params.get(key)) search.set(key, params.get(key));
  const [patterns, logs] = await Promise.all([
    api(`/api/v1/models/${name}/logs/patterns?${query}`),
    api(`/api/v1/models/${name}/logs?${search}`),
  ]);
  const go = (changes) => {
    const q = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) (v ? q.set(k, v) : q.delete(k));
    location.hash = `#/model/${name}/logs?${q}`;
  };
  const times = patterns.starts.map((t) => Date.parse(t));
  const top = patterns.patterns.slice().sort((a, b) => b.count - a.count).slice(0, 6);
  const level = (l) => el("span", { class: `badge level-${l}` }, l);
  const levelSelect = el("select", { id: "log-level", onchange: (e) => go({ level: e.target.value }) },
    ["", ...LOG_LEVELS].map((l) => el("option", { value: l, selected: l === (params.get("level") || "") }, l || "any level")));
  const text = el("input", { id: "log-q", type: "search", value: params.get("q") || "", placeholder: "text in the message" });
  return [
    el("p", { id: "log-levels" }, `${fmt(patterns.total)} records: `,
      LOG_LEVELS.map((l) => `${l} ${fmt(patterns.levels[l])}`).join(" · ")),
    top.length
      ? lineChart("log-templates", "records per template", times, top.map((p) => ({ label: p.template.slice(0, 60), values: p.series })))
      : el("p", { class: "muted" }, `No log record in the range. Send them with POST /api/v1/models/${model.name}/logs (or mw.logging_handler in Python).`),
    el("h2", {}, "Templates"),
    el("table", { id: "log-patterns" },
      el("tr", {}, ["template", "level", "count", "last seen"].map((h, i) => el("th", { class: i === 2 ? "" : "l" }, h))),
      patterns.patterns.map((p) => el("tr", { "data-template": p.template },
        el("td", { class: "l" }, el("code", {}, p.template)), el("td", { class: "l" }, level(p.level)),
        el("td", {}, fmt(p.count)), el("td", { class: "l" }, p.last_seen)))),
    el("h2", {}, "Newest records"),
    el("form", { class: "controls", onsubmit: (e) => { e.preventDefault(); go({ q: text.value }); } },
      el("label", {}, "level ", levelSelect), el("label", {}, "text ", text), el("button", { type: "submit" }, "Search")),
    el("table", { id: "log-records" },
      el("tr", {}, ["time", "level", "instance", "message"].map((h) => el("th", { class: "l" }, h))),
      logs.records.map((r) => el("tr", { "data-level": r.level },
        el("td", { class: "l" }, r.timestamp), el("td", { class: "l" }, level(r.level)),
        el("td", { class: "l" }, r.instance || "—"), el("td", { class: "l log-message" }, r.message)))),
  ];
}

// ---- model internals ------------------------------------------------------------------

const SVG = "http://www.w3.org/2000/svg";

function svgEl(tag, attributes = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, v);
  return node;
}

// TensorBoard's "offset" histogram view: one ridge per step, the oldest at the back (top),
// each histogram scaled to its own tallest bin, on the tensor's common value axis.
function ridgeChart(id, series) {
  const points = series.points.filter((p) => p.summary.histogram.counts.length > 0);
  const card = el("div", { class: "card", "data-chart": id },
    el("h3", {}, `${series.tensor} `, el("span", { class: "muted" }, `${series.version} · ${points.length} steps`)));
  window.modelwatchCharts[id] = { points: points.reduce((n, p) => n + p.summary.histogram.counts.length, 0), series: points.length };
  if (points.length === 0) {
    card.append(el("p", { class: "muted" }, "No finite values."));
    return card;
  }
  const lo = Math.min(...points.map((p) => p.summary.histogram.edges[0]));
  const hi = Math.max(...points.map((p) => p.summary.histogram.edges.at(-1)));
  const width = 440, ridge = 14, amplitude = 44, left = 44;
  const height = amplitude + ridge * (points.length - 1) + 22;
  const x = (v) => left + ((v - lo) / (hi - lo || 1)) * (width - left - 8);
  const svg = svgEl("svg", { class: "ridges", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `histograms of ${series.tensor} over steps` });
  points.forEach((p, k) => {
    const { edges, counts } = p.summary.histogram;
    const tallest = Math.max(...counts, 1);
    const base = amplitude + ridge * k;
    let d = `M${x(edges[0]).toFixed(1)} ${base}`;
    counts.forEach((c, i) => {
      const mid = (edges[i] + edges[i + 1]) / 2;
      d += ` L${x(mid).toFixed(1)} ${(base - (c / tallest) * amplitude).toFixed(1)}`;
    });
    d += ` L${x(edges.at(-1)).toFixed(1)} ${base} Z`;
    const shade = points.length === 1 ? 45 : 70 - (40 * k) / (points.length - 1);
    const path = svgEl("path", { d, fill: `hsla(24, 85%, ${shade.toFixed(0)}%, 0.55)`, stroke: `hsl(24, 85%, ${(shade - 15).toFixed(0)}%)`, "stroke-width": "0.8" });
    const title = svgEl("title");
    title.textContent = `step ${p.step}: mean ${fmt(p.summary.mean)}, std ${fmt(p.summary.std)}, L2 ${fmt(p.summary.l2_norm)}`;
    path.append(title);
    svg.append(path);
    if (k === 0 || k === points.length - 1) {
      const label = svgEl("text", { x: 2, y: base, class: "ridge-label" });
      label.textContent = `${p.step}`;
      svg.append(label);
    }
  });
  for (const v of [lo, (lo + hi) / 2, hi]) {
    const tick = svgEl("text", { x: x(v), y: height - 4, "text-anchor": "middle", class: "ridge-label" });
    tick.textContent = fmt(v, 3);
    svg.append(tick);
  }
  card.append(svg);
  return card;
}

async function internalsTab(model, range, params) {
  const base = `/api/v1/models/${encodeURIComponent(model.name)}/parameters`;
  const all = await api(base);
  if (all.tensors.length === 0) {
    return [el("p", { class: "muted" }, "No tensor summaries yet. Send them with POST " + base + " (or m.log_parameters in Python).")];
  }
  const versions = [...new Set(all.tensors.map((t) => t.version))];
  const shown = versions.includes(params.get("version")) ? params.get("version") : versions.at(-1);
  const layers = all.tensors.filter((t) => t.version === shown && !t.tensor.startsWith("training/"));
  const training = all.tensors.filter((t) => t.version === shown && t.tensor.startsWith("training/"));
  const go = (changes) => {
    const q = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) q.set(k, v);
    location.hash = `#/model/${encodeURIComponent(model.name)}/internals?${q}`;
  };
  const select = (id, value, onchange) => el("select", { id, onchange },
    versions.map((v) => el("option", { value: v, selected: v === value }, v)));
  const parts = [
    el("div", { class: "controls" }, el("label", {}, "version", select("internals-version", shown, (e) => go({ version: e.target.value })))),
  ];
  if (training.length > 0) {
    const steps = training[0].points.map((p) => p.step);
    parts.push(el("h2", {}, "Training record"),
      lineChart("training", "per epoch (step)", steps,
        training.map((t) => ({ label: t.tensor.slice("training/".length), values: t.points.map((p) => p.summary.mean) })), [], false));
  }
  parts.push(el("h2", {}, "Histograms over steps"),
    el("div", { class: "grid", id: "ridges" }, layers.map((t, i) => ridgeChart(`ridge-${i}`, t))));
  const from = versions.includes(params.get("from_version")) ? params.get("from_version") : versions[0];
  const to = versions.includes(params.get("to_version")) ? params.get("to_version") : versions.at(-1);
  const diff = await api(`${base}/diff?${new URLSearchParams({ from_version: from, to_version: to })}`);
  const big = (v) => typeof v === "number" && Math.abs(v) > 0.5;
  parts.push(el("h2", {}, "Difference between versions"),
    el("div", { class: "controls" },
      el("label", {}, "from (last step)", select("internals-from", from, (e) => go({ from_version: e.target.value }))),
      el("label", {}, "to (last step)", select("internals-to", to, (e) => go({ to_version: e.target.value })))),
    el("table", { id: "internals-diff" },
      el("tr", {}, ["tensor", "from step", "to step", "mean change", "std change", "L2 norm change", "Wasserstein"].map((h, i) => el("th", { class: i === 0 ? "l" : "" }, h))),
      diff.tensors.map((t) => el("tr", { "data-tensor": t.tensor },
        el("td", { class: "l" }, t.tensor), el("td", {}, fmt(t.from_step)), el("td", {}, fmt(t.to_step)),
        el("td", {}, fmt(t.mean_change)), el("td", {}, fmt(t.std_change)),
        el("td", { class: big(t.l2_norm_change) ? "bad" : "" }, t.l2_norm_change === null ? "—" : `${(t.l2_norm_change * 100).toFixed(1)}%`),
        el("td", {}, fmt(t.wasserstein))))),
    diff.only_in_from.length || diff.only_in_to.length
      ? el("p", { class: "muted" }, `Only in ${from}: ${diff.only_in_from.join(", ") || "—"}. Only in ${to}: ${diff.only_in_to.join(", ") || "—"}.`)
      : "");
  return parts;
}

async function modelAlertsTab(model, range) {
  return (await alertSections(model.name)).concat(await ruleEditor(model, range));
}

// ---- rule editor and backtest (issue 18) ----------------------------------------------

// The model's rules, and an editor whose Backtest button runs the edited rule over the
// page's range (POST /api/v1/rules/backtest) and draws its alert spans and counts.
async function ruleEditor(model, range) {
  const { rules } = await api("/api/v1/rules");
  const mine = rules.filter((r) => r.model === model.name);
  const template = { model: model.name, metric: (HEADLINE[model.task] || ["count"])[0], window: "1h", condition: { op: "<", threshold: 0.8 } };
  const text = (r) => {
    const definition = Object.assign({}, r);
    delete definition.name;
    return JSON.stringify(definition, null, 2);
  };
  const name = el("input", { id: "rule-name", value: mine.length ? mine[0].name : "draft", size: 24, "aria-label": "rule name" });
  const editor = el("textarea", { id: "rule-json", rows: 12, cols: 60, spellcheck: "false", "aria-label": "rule definition" }, mine.length ? text(mine[0]) : JSON.stringify(template, null, 2));
  const output = el("div", { id: "backtest-result" });
  const run = async () => {
    output.replaceChildren(el("p", { class: "muted" }, "Backtesting…"));
    let rule;
    try {
      rule = JSON.parse(editor.value);
    } catch (e) {
      output.replaceChildren(el("p", { class: "error" }, `not JSON: ${e.message}`));
      return;
    }
    try {
      const answer = await api("/api/v1/rules/backtest", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ name: name.value, rule, from: iso(range.from), to: iso(range.to) }),
      });
      output.replaceChildren(...backtestView(answer, range));
    } catch (e) {
      if (e instanceof AuthNeeded) throw e;
      output.replaceChildren(el("p", { class: "error" }, e.message));
    }
    document.body.dataset.ready = "backtest";
  };
  return [
    el("h2", {}, "Rules"),
    mine.length
      ? el("table", { class: "rules" },
        el("tr", {}, ["name", "metric", "condition", "window", ""].map((h) => el("th", { class: "l" }, h))),
        mine.map((r) => el("tr", { "data-rule": r.name }, el("td", { class: "l" }, r.name), el("td", { class: "l" }, r.metric),
          el("td", { class: "l" }, JSON.stringify(r.condition || {})), el("td", { class: "l" }, r.window || ""),
          el("td", { class: "l" }, el("button", { type: "button", class: "edit-rule", onclick: () => { name.value = r.name; editor.value = text(r); } }, "Edit")))))
      : el("p", { class: "muted" }, "No rule on this model yet."),
    el("div", { class: "rule-editor" },
      el("label", {}, "name ", name),
      editor,
      el("p", {}, el("button", { type: "button", id: "backtest", onclick: run }, "Backtest"),
        el("span", { class: "muted" }, ` over ${iso(range.from)} – ${iso(range.to)}, without saving; PUT /api/v1/rules/{name} saves it.`))),
    output,
  ];
}

// A backtest answer: counts, the span values with the alert spans shaded, and the alerts.
function backtestView(answer, range) {
  const c = answer.counts;
  const times = answer.spans.map((s) => Date.parse(s.end));
  const condition = answer.rule.condition || {};
  const thresholds = typeof condition.threshold === "number" ? [{ value: condition.threshold, label: `${condition.op} ${condition.threshold}` }] : [];
  const spans = answer.alerts.map((a) => [Date.parse(a.starts_at), a.ends_at ? Date.parse(a.ends_at) : range.to]);
  const chart = lineChart("backtest", `${answer.rule.metric} per span, alerts shaded`, times, [{ label: answer.rule.metric, values: answer.spans.map((s) => s.value) }], thresholds);
  window.modelwatchCharts.backtest.alertSpans = spans.length;
  chart.append(alertStrip(spans, range));
  return [
    el("p", { id: "backtest-counts" },
      `${fmt(c.alerts)} alerts (${fmt(c.alerts_per_week, 2)} a week), ${fmt(c.flaps)} flaps, ${fmt(c.notifications)} notifications, ${fmt(c.muted)} muted, over ${fmt(c.spans)} spans of which ${fmt(c.spans_held)} held`),
    chart,
    answer.alerts.length
      ? el("table", { class: "backtest-alerts" },
        el("tr", {}, ["starts at", "ends at", "value"].map((h) => el("th", { class: "l" }, h))),
        answer.alerts.map((a) => el("tr", { "data-backtest-alert": a.starts_at }, el("td", { class: "l" }, a.starts_at), el("td", { class: "l" }, a.ends_at || "firing at the end"), el("td", {}, fmt(a.value)))))
      : el("p", { class: "muted" }, "This rule would have raised no alert over the range."),
  ];
}

// The alert spans on the range as red bars (an SVG strip under the chart).
function alertStrip(spans, range) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "alert-strip");
  svg.setAttribute("viewBox", "0 0 430 12");
  const x = (t) => Math.max(0, Math.min(430, ((t - range.from) / (range.to - range.from)) * 430));
  for (const [start, end] of spans) {
    const bar = document.createElementNS(ns, "rect");
    bar.setAttribute("x", x(start).toFixed(1));
    bar.setAttribute("width", Math.max(1, x(end) - x(start)).toFixed(1));
    bar.setAttribute("y", "1");
    bar.setAttribute("height", "10");
    svg.append(bar);
  }
  return svg;
}

// ---- routing --------------------------------------------------------------------------

let authRequired = null;

async function route() {
  document.body.dataset.ready = "";
  document.getElementById("sign-out").hidden = !token();
  if (authRequired === null) {
    // Ask first, so that a server needing a token gets no request without one.
    authRequired = (await (await fetch("/healthz")).json()).auth_required === true;
  }
  if (authRequired && !token()) {
    page(el("p", { class: "muted" }, "Waiting for a token…"));
    askForToken("");
    return;
  }
  const hash = location.hash || "#/";
  const path = hash.slice(1).split("?")[0];
  const params = queryOf(hash);
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  try {
    if (parts[0] === "model" && parts[1]) await modelPage(parts[1], parts[2] || "performance", params);
    else if (parts[0] === "alerts") await alertsPage();
    else await overview();
  } catch (e) {
    page(failure(e));
    if (!(e instanceof AuthNeeded)) console.warn(e);
  }
}

window.addEventListener("hashchange", route);
route();
