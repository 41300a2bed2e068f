// Compare: two to five landscapes of one run side by side on one colour scale, zoom and pan linked
// between those whose latent axes share units, and the metrics table beside them.

import { landscapeLayout, landscapeTraces, loadLandscape, scaleArrays } from "./landscape.js";
import { makeScale } from "./scale.js";
import { api, el, enc, fmt, PLOT_CONFIG, setCrumbs, status } from "./util.js";

function metricsTable(metrics, loss) {
  const cols = [["landscape", "landscape"], ["method", "method"], ["trajectory", "trajectory"], ["points", "points"],
    ["e_proj mean", "e_proj_mean"], ["e_proj median", "e_proj_median"], [`e_rel ${loss} mean`, `e_relative_${loss}_mean`],
    [`e_rel ${loss} median`, `e_relative_${loss}_median`], [`e_range ${loss} mean`, `e_range_${loss}_mean`]];
  return el("table", { id: "metrics" },
    el("thead", {}, el("tr", {}, cols.map(([h], i) => el("th", { class: i > 2 ? "num" : null, text: h })))),
    el("tbody", {}, metrics.rows.map((r) => el("tr", {}, cols.map(([, key], i) =>
      el("td", { class: i > 2 ? "num" : null, text: i > 2 ? fmt(r[key], 3) : r[key] }))))));
}

export async function comparePage(main, params, runId) {
  const run = await api(`/api/runs/${runId}`);
  setCrumbs([{ text: "runs", href: "#/" }, { text: run.path, href: `#/run/${runId}` }, { text: "compare" }]);
  const all = run.landscapes.map((x) => x.name);
  const chosen = (params.get("names") || all.slice(0, 5).join(",")).split(",").filter((n) => all.includes(n)).slice(0, 5);
  const losses = [...new Set(run.landscapes.filter((x) => chosen.includes(x.name)).flatMap((x) => x.losses))];
  const loss = params.get("loss") && losses.includes(params.get("loss")) ? params.get("loss") : losses[0];
  const mode = params.get("scale") || "log";
  const go = (names, l, s) => { location.hash = `#/compare/${runId}?names=${names.map(enc).join(",")}&loss=${enc(l)}&scale=${s}`; };
  const boxes = all.map((n) => el("label", {}, el("input", { type: "checkbox", value: n, ...(chosen.includes(n) ? { checked: true } : {}) }), ` ${n} `));
  const message = el("span", { class: "error" });
  const apply = () => {
    const names = boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
    if (names.length < 2 || names.length > 5) { message.textContent = "choose two to five landscapes"; return; }
    go(names, lossSelect.value, scaleSelect.value);
  };
  const lossSelect = el("select", { id: "compare-loss" }, losses.map((l) => el("option", { value: l, text: l, ...(l === loss ? { selected: true } : {}) })));
  const scaleSelect = el("select", {}, ["log", "linear"].map((s) => el("option", { value: s, text: s, ...(s === mode ? { selected: true } : {}) })));
  main.append(el("h1", {}, "Compare landscapes"),
    el("div", { class: "row" }, ...boxes, el("label", {}, "loss ", lossSelect), el("label", {}, "colour scale ", scaleSelect),
      el("button", { class: "primary", onclick: apply, text: "show" }), message));
  if (chosen.length < 2) { main.append(el("p", { class: "muted", text: "this run needs at least two landscapes to compare" })); return; }
  status("loading…");
  const lands = await Promise.all(chosen.map((n) => loadLandscape(runId, n, run.landscapes.find((x) => x.name === n).losses.includes(loss) ? loss : null)));
  const scale = makeScale(lands.flatMap(scaleArrays), mode);
  const columns = Math.min(chosen.length, 3);
  const gridBox = el("div", { class: "compare", style: `grid-template-columns: repeat(${columns}, minmax(0, 1fr))` });
  main.append(gridBox, el("p", { class: "muted" }, "one colour scale for all panels; zoom and pan are linked between landscapes whose latent axes are lengths in parameter space (",
    lands.filter((l) => l.meta.units).map((l) => l.meta.name).join(", ") || "none here", "); the others keep their own axes"));
  const plots = [];
  for (const land of lands) {
    const div = el("div", { class: "plot compare-plot", style: "height: 420px", dataset: { landscape: land.meta.name, units: land.meta.units || "" } });
    gridBox.append(div);
    const layout = landscapeLayout(land, scale, { title: { text: `${land.meta.name} (${land.meta.attrs.method})`, font: { size: 13 } }, margin: { l: 50, r: 10, t: 36, b: 45 } });
    if (land !== lands.at(-1)) layout.coloraxis.showscale = false;
    await Plotly.newPlot(div, landscapeTraces(land, scale, { contours: land.rows * land.cols <= 300 * 300 }), layout, PLOT_CONFIG);
    plots.push([div, land]);
  }
  let syncing = false;
  for (const [div, land] of plots) {
    if (!land.meta.units) continue;
    div.on("plotly_relayout", async (change) => {
      if (syncing) return;
      const update = {};
      for (const key of ["xaxis.range[0]", "xaxis.range[1]", "yaxis.range[0]", "yaxis.range[1]", "xaxis.autorange", "yaxis.autorange"]) {
        if (key in change) update[key] = change[key];
      }
      if (change["xaxis.range"]) update["xaxis.range"] = change["xaxis.range"];
      if (change["yaxis.range"]) update["yaxis.range"] = change["yaxis.range"];
      if (!Object.keys(update).length) return;
      syncing = true;
      try {
        for (const [other, otherLand] of plots) if (other !== div && otherLand.meta.units === land.meta.units) await Plotly.relayout(other, update);
      } finally { syncing = false; }
    });
  }
  const metrics = await api(`/api/runs/${runId}/metrics?landscapes=${chosen.map(enc).join(",")}`);
  main.append(el("h2", {}, "Metrics"), el("div", { class: "card" }, metricsTable(metrics, loss)));
  status("");
}
