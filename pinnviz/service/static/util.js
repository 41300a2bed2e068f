// Shared helpers of the pages: requests, DOM building (text only, never HTML from data), number formats.

export class ApiError extends Error {}

export async function api(path, options = {}) {
  const response = await fetch(path, { credentials: "same-origin", ...options });
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    const message = (body && (body.error || body.detail)) || `${response.status} ${response.statusText}`;
    throw new ApiError(typeof message === "string" ? message : JSON.stringify(message));
  }
  return body;
}

export async function grid(path) {
  const response = await fetch(path, { credentials: "same-origin" });
  if (!response.ok) throw new ApiError(await response.text());
  const [rows, cols] = response.headers.get("x-shape").split(",").map(Number);
  return { values: new Float64Array(await response.arrayBuffer()), rows, cols };
}

// A trajectory's curves, fetching only the rows after those of `known` (its earlier answer) while it is the
// same trajectory (same creation time, not shorter); otherwise all of them.
export async function trajectoryCurves(runId, name, known) {
  const path = `/api/runs/${runId}/trajectories/${encodeURIComponent(name)}`;
  const have = known ? known.steps.length : 0;
  const fresh = await api(`${path}?start=${have}`);
  if (!known || fresh.start !== have || fresh.created !== known.created) return fresh.start === 0 ? fresh : api(path);
  const join = (old, add) => Object.fromEntries(Object.keys(add).map((k) => [k, (old[k] || []).concat(add[k])]));
  return { ...fresh, start: 0, steps: known.steps.concat(fresh.steps), losses: join(known.losses, fresh.losses),
           weights: join(known.weights, fresh.weights) };
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const enc = encodeURIComponent;

export function fmt(value, digits = 6) {
  if (value === null || value === undefined || Number.isNaN(value)) return "not evaluable";
  if (typeof value !== "number") return String(value);
  if (value === 0) return "0";
  const magnitude = Math.abs(value);
  if (magnitude >= 1e-3 && magnitude < 1e6) return String(Number(value.toPrecision(digits)));
  return value.toExponential(digits - 1).replace(/\.?0+e/, "e");
}

export function valueNode(value, digits = 6) {
  const bad = value === null || value === undefined || Number.isNaN(value);
  return el("span", { class: bad ? "nan" : null, text: fmt(value, digits) });
}

export function badge(status) {
  return el("span", { class: `badge ${status}`, text: status });
}

export function setCrumbs(parts) {
  const nav = document.getElementById("crumbs");
  nav.replaceChildren(...parts.flatMap((part, i) => [
    ...(i ? [el("span", { class: "sep", text: "/" })] : []),
    part.href ? el("a", { href: part.href, text: part.text }) : el("span", { text: part.text }),
  ]));
}

export function status(text) {
  document.getElementById("status").textContent = text || "";
}

// A log axis with ticks at 1, 2, 5 x 10^k (only 10^k over wide ranges), labelled as plain numbers.
export function logAxis(arrays) {
  let lo = Infinity, hi = -Infinity;
  for (const a of arrays) for (const v of a || []) if (v !== null && v > 0 && Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  if (!Number.isFinite(lo)) return { type: "log" };
  const a = Math.floor(Math.log10(lo)), b = Math.ceil(Math.log10(hi));
  const span = Math.log10(hi) - Math.log10(lo);
  const mult = span <= 1.2 ? [1, 2, 3, 5, 7] : span <= 3 ? [1, 2, 5] : [1];
  const step = Math.max(1, Math.ceil((b - a) / 8));
  const vals = [];
  for (let k = a; k <= b; k += mult.length === 1 ? step : 1) for (const m of mult) {
    const v = m * 10 ** k;
    if (v >= lo / 1.05 && v <= hi * 1.05) vals.push(v);
  }
  return { type: "log", tickvals: vals, ticktext: vals.map((v) => fmt(v, 2)) };
}

export const PLOT_CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["sendDataToCloud"] };

export function allPositive(arrays) {
  let any = false;
  for (const array of arrays) {
    for (const v of array) {
      if (v === null || Number.isNaN(v)) continue;
      if (v <= 0) return false;
      any = true;
    }
  }
  return any;
}

export function nearestIndex(axis, value) {
  const n = axis.length;
  if (n < 2) return 0;
  const i = Math.round(((value - axis[0]) / (axis[n - 1] - axis[0])) * (n - 1));
  return Math.min(n - 1, Math.max(0, i));
}

export function sparkline(values, width = 120, height = 24) {
  const finite = values.filter((v) => v !== null && Number.isFinite(v) && v > 0);
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", width); svg.setAttribute("height", height); svg.setAttribute("class", "spark");
  if (finite.length < 2) return svg;
  const logs = finite.map(Math.log10);
  const lo = Math.min(...logs), hi = Math.max(...logs);
  const points = logs.map((v, i) => `${(i / (logs.length - 1)) * width},${height - 2 - ((v - lo) / (hi - lo || 1)) * (height - 4)}`);
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", points.join(" ")); line.setAttribute("fill", "none");
  line.setAttribute("stroke", "#2f5fb3"); line.setAttribute("stroke-width", "1.5");
  svg.append(line);
  return svg;
}
