// Probes: each stored probe drawn from its stored arrays (curves against their natural axis, matrices
// as maps), and the visualizer's own figure on request.

import { allPositive, api, el, enc, logAxis, PLOT_CONFIG, setCrumbs } from "./util.js";

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

async function probeCard(runId, name) {
  const detail = await api(`/api/runs/${runId}/probes/${enc(name)}`);
  const settings = Object.entries(detail.attrs).filter(([k]) => k !== "probe")
    .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join(", ");
  const plots = el("div", { style: "display:grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); gap: 8px" });
  const figureBox = el("div");
  const card = el("div", { class: "card probe", dataset: { probe: name } },
    el("h2", {}, `${name} `, el("span", { class: "muted", text: detail.kind || "" })),
    el("div", { class: "muted", style: "font-size:12px; word-break: break-all" }, settings),
    Object.keys(detail.omitted).length ? el("div", { class: "muted" }, "not sent (large): " + Object.entries(detail.omitted).map(([k, s]) => `${k} ${JSON.stringify(s)}`).join(", ")) : null,
    plots,
    detail.kind ? el("div", { class: "row" }, el("button", { text: "render the visualizer's figure", onclick: () => {
      figureBox.replaceChildren(el("img", { src: `/api/runs/${runId}/probes/${enc(name)}/figure.png`, style: "max-width: 100%", alt: `${name} figure` }));
    } }), el("a", { href: `/api/runs/${runId}/probes/${enc(name)}/figure.svg`, target: "_blank", text: "SVG" }),
      el("a", { href: `/api/runs/${runId}/probes/${enc(name)}/figure.pdf`, target: "_blank", text: "PDF" })) : null,
    figureBox);
  return [card, () => figuresFor(detail).forEach((fig) => {
    const div = el("div", { class: "plot" });
    plots.append(div);
    Plotly.newPlot(div, fig.data, fig.layout, PLOT_CONFIG);
  })];
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
