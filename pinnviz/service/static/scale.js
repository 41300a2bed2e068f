// The colour scale shared by a loss grid and the trajectory points on it: log for positive losses,
// symmetric log for energies that reach zero or below (as pinnviz.visualizer's loss_norm), or linear.

import { fmt } from "./util.js";

function range(arrays) {
  let lo = Infinity, hi = -Infinity;
  for (const array of arrays) for (const v of array) {
    if (v === null || !Number.isFinite(v)) continue;
    if (v < lo) lo = v; if (v > hi) hi = v;
  }
  return [lo, hi];
}

function decadeTicks(lo, hi) {
  const a = Math.floor(lo), b = Math.ceil(hi), vals = [];
  const mult = b - a <= 2 ? [1, 2, 5] : [1];
  for (let k = a; k <= b; k++) for (const m of mult) {
    const t = k + Math.log10(m);
    if (t >= lo - 1e-9 && t <= hi + 1e-9) vals.push(t);
  }
  return vals;
}

// evenly spaced round values (1, 2 or 5 x 10^k apart) in [a, b]: ticks of a log scale narrower than a decade
function roundValues(a, b, count = 6) {
  const raw = (b - a) / count, magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw);
  if (!(step > 0) || !Number.isFinite(step)) return [];
  const vals = [];
  for (let i = Math.ceil(a / step); i * step <= b + step * 1e-9 && vals.length < 20; i++) vals.push(Number((i * step).toPrecision(12)));
  return vals;
}

export function makeScale(arrays, mode) {
  let [lo, hi] = range(arrays);
  if (!Number.isFinite(lo)) { lo = 0; hi = 1; }
  if (mode === "linear" || hi <= lo) {
    const pad = hi > lo ? 0 : Math.abs(lo) * 0.1 || 1;
    return { kind: "linear", f: (v) => v, cmin: lo - pad, cmax: hi + pad, ticks: null, lo, hi };
  }
  if (lo > 0) {
    const cmin = Math.log10(lo), cmax = Math.log10(hi);
    let vals = decadeTicks(cmin, cmax);
    if (vals.length < 3) vals = roundValues(lo, hi).filter((v) => v > 0).map(Math.log10);
    return { kind: "log", f: (v) => (v > 0 ? Math.log10(v) : NaN), cmin, cmax, lo, hi,
             ticks: { vals, text: vals.map((t) => fmt(10 ** t, 3)) } };
  }
  // symmetric log: linear within (-T, T), logarithmic beyond; T as in loss_norm
  let T;
  if (lo < 0) T = 10 ** Math.ceil(Math.log10(-lo));
  else {
    const nz = [];
    for (const a of arrays) for (const v of a) if (v !== null && Number.isFinite(v) && v !== 0) nz.push(Math.abs(v));
    nz.sort((x, y) => x - y);
    const p10 = nz.length ? nz[Math.floor(0.1 * (nz.length - 1))] : 1;
    T = 10 ** Math.floor(Math.log10(Math.max(p10, Math.max(Math.abs(lo), Math.abs(hi)) * 1e-6)));
  }
  const f = (v) => (Number.isFinite(v) ? Math.sign(v) * Math.log10(1 + Math.abs(v) / T) : NaN);
  const inv = (t) => Math.sign(t) * T * (10 ** Math.abs(t) - 1);
  const cmin = f(lo), cmax = f(hi);
  const candidates = [0];
  for (let k = -15; k <= 15; k++) for (const m of [1, 2, 5]) candidates.push(m * 10 ** k, -m * 10 ** k);
  const inRange = candidates.map((v) => [f(v), v]).filter(([t]) => t >= cmin - 1e-12 && t <= cmax + 1e-12)
    .sort((x, y) => x[0] - y[0]);
  const gap = 0.07 * (cmax - cmin);
  const vals = [];
  for (const [t, v] of inRange) {  // zero and powers of ten first, then 2x and 5x where there is room
    if (v !== 0 && Math.abs(Math.log10(Math.abs(v)) % 1) > 1e-9) continue;
    if (vals.every((u) => Math.abs(u - t) >= gap)) vals.push(t);
  }
  for (const [t] of inRange) if (vals.every((u) => Math.abs(u - t) >= gap)) vals.push(t);
  vals.sort((a, b) => a - b);
  return { kind: "symlog", T, f, inv, cmin, cmax, lo, hi, ticks: { vals, text: vals.map((t) => fmt(inv(t), 3)) } };
}
