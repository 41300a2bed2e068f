// Probes: each stored probe drawn from its stored arrays (curves against their natural axis, matrices
// as maps; direction (Hessian, random, PCA) landscapes as slices through their centre, merge trees as persistence diagram and
// barcode), and the visualizer's own figure on request.

import { NAN_COLOUR } from "./landscape.js";
import { makeScale } from "./scale.js";
import { allPositive, api, el, enc, fmt, logAxis, PLOT_CONFIG, setCrumbs } from "./util.js";

const AXES = ["alpha", "t", "step", "steps", "distance", "dims", "radii", "scales", "scale", "widths", "x", "eigenvalue_index"];

function flatNumbers(values) {
  return Array.isArray(values) ? values.flat(Infinity).filter((v) => typeof v === "number") : [];
}

function figuresFor(detail) {
  const arrays = detail.arrays;
  const axes = Object.entries(arrays).filter(([k, a]) => a.shape.length === 1 && AXES.includes(k.split("/").pop()));
  const figures = [];
  for (const [key, a] of Object.entries(arrays)) {
    if (a.dtype === "bool" || AXES.includes(key.split("/").pop()) || !a.shape.length) continue;
    const axis = axes.find(([k, x]) => k !== key && x.shape[0] === a.shape.at(-1)) || axes.find(([k, x]) => k !== key && x.shape[0] === a.shape[0]);
    const values = flatNumbers(a.values);
    const yaxis = allPositive([values]) ? logAxis([values]) : {};
    const layout = { title: { text: `${key} ${JSON.stringify(a.shape)}`, font: { size: 12 } }, height: 260,
                     margin: { l: 55, r: 10, t: 30, b: 35 }, showlegend: false, yaxis };
    // a line only along an increasing axis; otherwise (repeated x, e.g. one value per scale) points
    const increasing = axis && axis[1].values.every((v, i, xs) => i === 0 || v > xs[i - 1]);
    if (a.shape.length === 1) {
      figures.push({ data: [{ x: axis ? axis[1].values : undefined, y: a.values, mode: !axis || increasing ? "lines+markers" : "markers",
                              marker: { size: axis && !increasing ? 8 : 4 } }],
                     layout: { ...layout, xaxis: { title: { text: axis ? axis[0] : "index" } } } });
    } else if (a.shape.length === 2 && a.shape[0] <= 40 && axis && axis[1].shape[0] === a.shape[1]) {
      figures.push({ data: a.values.map((row, i) => ({ x: axis[1].values, y: row, mode: "lines", name: `${i}`, line: { width: 1 } })),
                     layout: { ...layout, xaxis: { title: { text: axis[0] } } } });
    } else if (a.shape.length === 2) {
      figures.push({ data: [{ type: "heatmap", z: a.values, colorscale: "Viridis" }], layout: { ...layout, yaxis: {} } });
    }
  }
  return figures;
}

// a log axis for positive values spanning more than about a decade; a linear one otherwise
function wideAxis(values) {
  const finite = values.filter((v) => v !== null && Number.isFinite(v));
  return allPositive([finite]) && Math.max(...finite) > 20 * Math.min(...finite) ? logAxis([finite]) : {};
}

function newPlot(box, fig, attrs = {}) {
  const div = el("div", { class: "plot", ...attrs });
  box.append(div);
  Plotly.newPlot(div, fig.data, fig.layout, PLOT_CONFIG);
  return div;
}

function drawGeneric(detail, box) {
  figuresFor(detail).forEach((fig) => newPlot(box, fig));
}

// loss[i_0, ..., i_{d-1}] at centre + sum_k axis_k[i_k] v_k: the (v1, v2) slice at the chosen indices of the others
function hessianSlice(values, pick, n0, n1) {
  return Array.from({ length: n1 }, (_, i1) => Array.from({ length: n0 }, (_, i0) => {
    let v = values[i0][i1];
    for (const i of pick) v = v[i];
    return v;
  }));
}

// what each direction of a direction landscape is: a Hessian eigenvalue, a share of the trajectory's
// variance (pca), or nothing more than its index (seeded random directions)
function directionValues(a) {
  if (a.eigenvalues) return { values: a.eigenvalues, text: (v) => `λ ${fmt(v, 4)}`, title: `top Hessian eigenvalues of ${a.loss}` };
  if (a.explained_variance_ratio) {
    return { values: a.explained_variance_ratio, text: (v) => `${fmt(100 * v, 3)}% var.`, title: "share of the trajectory's variance" };
  }
  return null;
}

function drawDirectionLandscape(detail, box) {
  const a = detail.attrs, dims = a.dims, grid = detail.arrays[`loss/${a.loss}`];
  const axes = Array.from({ length: dims }, (_, k) => detail.arrays[`axis_${k}`]?.values);
  const described = directionValues(a);
  const label = (k) => `v${k + 1}${described ? ` (${described.text(described.values[k])})` : ""}`;
  const kind = a.directions || "hessian";
  if (described) {
    newPlot(box, { data: [{ type: "bar", x: described.values.map((_, k) => `v${k + 1}`), y: described.values }],
                   layout: { title: { text: `${kind} directions: ${described.title} at step ${a.step}`, font: { size: 12 } },
                             height: 260, margin: { l: 55, r: 10, t: 30, b: 35 } } });
  } else {
    box.append(el("p", { class: "muted", text: `${dims} ${kind} direction${dims === 1 ? "" : "s"} (${a.method || ""}, seed ${a.seed ?? "-"}) at step ${a.step}` }));
  }
  if (!grid || axes.some((x) => !x)) {
    box.append(el("p", { class: "muted", text: `loss/${a.loss} is too large to send; render the figure instead` }));
    return;
  }
  if (dims === 1) {
    newPlot(box, { data: [{ x: axes[0], y: grid.values, mode: "lines", name: a.loss }],
                   layout: { title: { text: `${a.loss} along v1`, font: { size: 12 } }, height: 300,
                             margin: { l: 55, r: 10, t: 30, b: 40 }, xaxis: { title: { text: label(0) } },
                             yaxis: wideAxis(grid.values) } }, { dataset: { hessian: "1" } });
    return;
  }
  const pick = axes.slice(2).map((x) => Math.floor(x.length / 2));
  const holder = el("div", { style: "grid-column: span 2" });
  const controls = el("div", { class: "row" });
  const div = el("div", { class: "plot hessian-slice", style: "height: 480px" });
  holder.append(controls, div);
  box.append(holder);
  const flat = grid.values.flat(Infinity);
  const scale = makeScale([flat], wideAxis(flat).type === "log" ? "log" : "linear");  // no ticks on a narrow log scale
  function redraw() {
    const z = hessianSlice(grid.values, pick, axes[0].length, axes[1].length);
    const others = pick.map((i, k) => `v${k + 3} = ${fmt(axes[k + 2][i], 3)}`).join(", ");
    div.dataset.pick = pick.join(",");
    Plotly.react(div, [
      { type: "heatmap", x: axes[0], y: axes[1], z: z.map((row) => row.map((v) => (v === null ? NaN : scale.f(v)))),
        customdata: z, text: z.map((row) => row.map((v) => fmt(v))), colorscale: "Viridis", zmin: scale.cmin, zmax: scale.cmax,
        hovertemplate: `v1 %{x:.4g}<br>v2 %{y:.4g}<br>${a.loss} %{text}<extra></extra>`, name: "slice",
        colorbar: { title: { text: `${a.loss}${scale.kind === "linear" ? "" : ` (${scale.kind})`}` },
                    ...(scale.ticks ? { tickvals: scale.ticks.vals, ticktext: scale.ticks.text } : {}) } },
      { type: "scatter", mode: "markers", x: [0], y: [0], name: "centre", hoverinfo: "skip",
        marker: { size: 11, symbol: "x", color: "#fff", line: { color: "#111", width: 1 } } }],
    { title: { text: `${a.loss} on the (v1, v2) plane of the ${kind} directions through the centre${others ? `, ${others}` : ""} · step ${a.step}`, font: { size: 12 } },
      margin: { l: 60, r: 20, t: 30, b: 50 }, plot_bgcolor: NAN_COLOUR, showlegend: false,
      xaxis: { title: { text: label(0) }, range: [axes[0][0], axes[0].at(-1)] },
      yaxis: { title: { text: label(1) }, range: [axes[1][0], axes[1].at(-1)] } }, PLOT_CONFIG);
  }
  pick.forEach((index, k) => {
    const input = el("input", { type: "range", class: "slice", dataset: { axis: k + 2 }, min: 0, max: axes[k + 2].length - 1, value: index });
    const shown = el("span", { class: "muted", text: fmt(axes[k + 2][index], 3) });
    input.addEventListener("input", () => { pick[k] = Number(input.value); shown.textContent = fmt(axes[k + 2][pick[k]], 3); redraw(); });
    controls.append(el("label", { style: "flex: 1" }, `slice along ${label(k + 2)} `, input), shown);
  });
  redraw();
}

const count = (n, one, many) => `${n} ${n === 1 ? one : many}`;

function drawTopology(detail, box) {
  const a = detail.attrs, m = a.metrics || {};
  const birth = detail.arrays.birth?.values || [], death = detail.arrays.death?.values || [];
  const top = m.loss_max;
  const finite = birth.map((b, i) => [b, death[i]]).filter(([, d]) => d !== null);
  const forever = birth.filter((_, i) => death[i] === null);
  const log = allPositive([birth]) && top > 20 * m.loss_min;  // a log axis only over more than a decade or so
  const axis = log ? logAxis([birth, [top]]) : {};
  box.append(el("p", { class: "muted", style: "grid-column: 1 / -1; margin: 0" },
    `${a.landscape} (${a.source}, ${a.loss}, ${a.dims}-D, ${a.connectivity}): ${count(m.minima, "minimum", "minima")}, `
    + `${count(m.saddles, "saddle", "saddles")} at persistence ≥ `
    + `${fmt(a.min_persistence, 3)}; loss ${fmt(m.loss_min, 4)} … ${fmt(m.loss_max, 4)}; flat fraction ${fmt(m.flat_fraction, 3)}, `
    + `second persistence ${fmt(m.second_persistence, 3)} of the range`));
  newPlot(box, {
    data: [{ x: [m.loss_min, top], y: [m.loss_min, top], mode: "lines", line: { color: "#999", dash: "dot", width: 1 }, hoverinfo: "skip", name: "birth = death" },
           { x: finite.map((p) => p[0]), y: finite.map((p) => p[1]), mode: "markers", name: "pairs", marker: { size: 7, color: "#2f5fb3" },
             hovertemplate: "born %{x:.4g}<br>dies %{y:.4g}<extra></extra>" },
           { x: forever, y: forever.map(() => top), mode: "markers", name: "never dies (a component's minimum)",
             marker: { size: 10, symbol: "triangle-up", color: "#d62728" }, hovertemplate: "born %{x:.4g}<br>never dies<extra></extra>" }],
    layout: { title: { text: `persistence diagram: ${count(birth.length, "pair", "pairs")}`, font: { size: 12 } }, height: 340,
              margin: { l: 60, r: 10, t: 30, b: 40 }, xaxis: { ...axis, title: { text: "birth (loss at the minimum)" } },
              yaxis: { ...axis, title: { text: "death (loss at the merging saddle)" } },
              legend: { orientation: "h", x: 0, y: -0.25, font: { size: 11 } } },
  }, { dataset: { topology: "diagram" } });
  // barcode: one bar per pair from its birth to its death (to the top of the range for the immortal ones), longest first
  const bars = birth.map((b, i) => [b, death[i] === null ? top : death[i], death[i] === null])
    .sort((p, q) => (q[1] - q[0]) - (p[1] - p[0])).slice(0, 200);
  const xs = [], ys = [];
  bars.forEach(([b, d], i) => { xs.push(b, d, null); ys.push(i, i, null); });
  newPlot(box, { data: [{ x: xs, y: ys, mode: "lines", line: { width: 4, color: "#2f5fb3" }, hoverinfo: "skip" }],
                 layout: { title: { text: `barcode (${bars.length} longest of ${birth.length})`, font: { size: 12 } }, height: 340, showlegend: false,
                           margin: { l: 60, r: 10, t: 30, b: 40 }, xaxis: { ...axis, title: { text: "loss" } },
                           yaxis: { autorange: "reversed", dtick: Math.max(1, Math.ceil(bars.length / 10)), zeroline: false,
                                    title: { text: "pair (by persistence)" } } } }, { dataset: { topology: "barcode" } });
}

const DRAW = { "direction-landscape": drawDirectionLandscape, "hessian-landscape": drawDirectionLandscape, topology: drawTopology };

async function probeCard(runId, name) {
  const detail = await api(`/api/runs/${runId}/probes/${enc(name)}`);
  const settings = Object.entries(detail.attrs).filter(([k]) => k !== "probe")
    .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join(", ");
  const plots = el("div", { style: "display:grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); gap: 8px" });
  const figureBox = el("div");
  const card = el("div", { class: "card probe", dataset: { probe: name } },
    el("h2", {}, `${name} `, el("span", { class: "muted", text: detail.kind || detail.attrs.kind || "" })),
    el("div", { class: "muted", style: "font-size:12px; word-break: break-all" }, settings),
    Object.keys(detail.omitted).length ? el("div", { class: "muted" }, "not sent (large): " + Object.entries(detail.omitted).map(([k, s]) => `${k} ${JSON.stringify(s)}`).join(", ")) : null,
    detail.stale ? el("p", { class: "error stale", text: `not shown: ${detail.stale}` }) : plots,
    detail.kind && !detail.stale ? el("div", { class: "row" }, el("button", { text: "render the visualizer's figure", onclick: () => {
      figureBox.replaceChildren(el("img", { src: `/api/runs/${runId}/probes/${enc(name)}/figure.png`, style: "max-width: 100%", alt: `${name} figure` }));
    } }), el("a", { href: `/api/runs/${runId}/probes/${enc(name)}/figure.svg`, target: "_blank", text: "SVG" }),
      el("a", { href: `/api/runs/${runId}/probes/${enc(name)}/figure.pdf`, target: "_blank", text: "PDF" })) : null,
    figureBox);
  return [card, () => { if (!detail.stale) (DRAW[detail.attrs.kind] || drawGeneric)(detail, plots); }];
}

export async function probesPage(main, params, runId) {
  const run = await api(`/api/runs/${runId}`);
  setCrumbs([{ text: "runs", href: "#/" }, { text: run.path, href: `#/run/${runId}` }, { text: "probes" }]);
  const only = params.get("name");
  const names = run.probes.map((p) => p.name).filter((n) => !only || n === only);
  main.append(el("h1", {}, "Probes"),
    el("p", { class: "chips" }, run.probes.map((p) => el("a", { href: `#/probes/${runId}?name=${enc(p.name)}`, text: p.name })),
      only ? el("a", { href: `#/probes/${runId}`, text: "(all)" }) : null));
  if (!names.length) main.append(el("p", { class: "muted", text: "no probes stored in this run" }));
  for (const name of names) {
    const [card, draw] = await probeCard(runId, name);
    main.append(card);
    draw();
  }
}
