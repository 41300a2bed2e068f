// Landscape: the loss on the latent grid with the trajectories on top (coloured by their true loss on
// the map's own scale), a hover read-out, a step slider with the diagnostics at that step, export.

import { makeScale } from "./scale.js";
import { api, el, enc, fmt, grid, logAxis, nearestIndex, PLOT_CONFIG, setCrumbs, status, valueNode } from "./util.js";

export const NAN_COLOUR = "#b9b9b9";

export async function loadLandscape(runId, name, loss) {
  const base = `/api/runs/${runId}/landscapes/${enc(name)}`;
  const meta = await api(`${base}?values=false${loss ? `&loss=${enc(loss)}` : ""}`);
  const [values, distance, extrapolated] = await Promise.all([
    grid(`${base}/grid?field=loss&loss=${enc(meta.loss)}`), grid(`${base}/grid?field=data_distance`),
    grid(`${base}/grid?field=extrapolated`)]);
  return { meta, values: values.values, distance: distance.values, extrapolated: extrapolated.values,
           rows: values.rows, cols: values.cols };
}

export function scaleArrays(land) {
  const arrays = [land.values];
  for (const d of Object.values(land.meta.diagnostics)) if (d.true_loss[land.meta.loss]) arrays.push(d.true_loss[land.meta.loss]);
  return arrays;
}

export function landscapeTraces(land, scale, { contours = true, coloraxis = "coloraxis" } = {}) {
  const { meta, rows, cols } = land;
  const z = new Float64Array(land.values.length);
  for (let i = 0; i < z.length; i++) z[i] = scale.f(land.values[i]);
  const zRows = Array.from({ length: rows }, (_, i) => z.subarray(i * cols, (i + 1) * cols));
  // above ~250k cells plotly's per-cell drawing is slow; "fast" paints one pixel per cell and lets the
  // browser scale the image (the axes are evenly spaced), which at that size is finer than the screen anyway
  const traces = [{ type: "heatmap", x: meta.axis_0, y: meta.axis_1, z: zRows, coloraxis, hoverinfo: "none",
                    zsmooth: rows * cols > 250000 ? "fast" : false, name: "grid" }];
  if (contours) {
    traces.push({ type: "contour", x: meta.axis_0, y: meta.axis_1, z: zRows, showscale: false, hoverinfo: "skip",
                  contours: { coloring: "none" }, line: { color: "rgba(255,255,255,0.45)", width: 0.8 }, ncontours: 18,
                  name: "contours" });
  }
  for (const [traj, d] of Object.entries(meta.diagnostics)) {
    const truth = d.true_loss[meta.loss] || [];
    traces.push({ type: "scatter", mode: "lines+markers", name: traj, x: d.coords.map((c) => c[0]), y: d.coords.map((c) => c[1]),
                  line: { color: "rgba(255,255,255,0.7)", width: 1 },
                  marker: { size: 7, color: truth.map((v) => (v === null ? NaN : scale.f(v))), coloraxis,
                            line: { color: "#111", width: 0.8 } },
                  customdata: d.steps.map((s, k) => [s, fmt(truth[k]), fmt((d.loss_at_projection[meta.loss] || [])[k])]),
                  hovertemplate: `${traj}<br>step %{customdata[0]}<br>true loss %{customdata[1]}<br>loss at projection %{customdata[2]}<extra></extra>` });
  }
  return traces;
}

export function landscapeLayout(land, scale, extra = {}) {
  const { meta } = land;
  const units = meta.units ? ` (${meta.units})` : "";
  const box = meta.attrs.fitted_box;
  return {
    margin: { l: 60, r: 20, t: 30, b: 50 }, plot_bgcolor: NAN_COLOUR, hovermode: "closest", showlegend: false,
    xaxis: { title: { text: `z₀${units}` }, range: [meta.axis_0[0], meta.axis_0.at(-1)], constrain: "domain" },
    yaxis: { title: { text: `z₁${units}` }, range: [meta.axis_1[0], meta.axis_1.at(-1)] },
    coloraxis: { colorscale: "Viridis", cmin: scale.cmin, cmax: scale.cmax,
                 colorbar: { title: { text: `${meta.loss}${scale.kind === "linear" ? "" : ` (${scale.kind})`}`, side: "right" },
                             ...(scale.ticks ? { tickvals: scale.ticks.vals, ticktext: scale.ticks.text } : {}) } },
    shapes: box ? [{ type: "rect", x0: box[0], x1: box[1], y0: box[2], y1: box[3], line: { color: "#fff", width: 1, dash: "dash" },
                     layer: "above" }] : [],
    ...extra,
  };
}

function diagnosticsFigures(meta, traj, step) {
  const d = meta.diagnostics[traj];
  const line = { type: "line", xref: "x", yref: "paper", x0: step, x1: step, y0: 0, y1: 1, line: { color: "#d62728", width: 1.5 } };
  const common = { height: 250, margin: { l: 60, r: 10, t: 50, b: 40 }, xaxis: { title: { text: "step" } }, shapes: [line],
                   legend: { orientation: "h", x: 0, y: 1.0, yanchor: "bottom", font: { size: 11 } } };
  const errors = {
    data: [{ x: d.steps, y: d.relative_projection_error, name: "relative projection error", mode: "lines+markers", marker: { size: 3 } },
           { x: d.steps, y: d.relative_loss_error[meta.loss], name: `relative loss error (${meta.loss})`, mode: "lines+markers", marker: { size: 3 } }],
    layout: { ...common, yaxis: { ...logAxis([d.relative_projection_error, d.relative_loss_error[meta.loss]]),
                                   title: { text: "relative error" } } },
  };
  const losses = {
    data: [{ x: d.steps, y: d.true_loss[meta.loss], name: "true loss L(m)", mode: "lines" },
           { x: d.steps, y: d.loss_at_projection[meta.loss], name: "loss at projection L(D(E(m)))", mode: "lines", line: { dash: "dot" } }],
    layout: { ...common, yaxis: { title: { text: `${meta.loss} along ${traj}` } } },
  };
  return { errors, losses };
}

export async function landscapePage(main, params, runId, name) {
  const loss = params.get("loss");
  const run = await api(`/api/runs/${runId}`);
  setCrumbs([{ text: "runs", href: "#/" }, { text: run.path, href: `#/run/${runId}` }, { text: `landscape ${name}` }]);
  status("loading grid…");
  const land = await loadLandscape(runId, name, loss);
  const { meta } = land;
  const trajectories = Object.keys(meta.diagnostics);
  let mode = params.get("scale") || "log";
  let traj = trajectories[0];
  let k = 0;
  const big = land.rows * land.cols > 300 * 300;
  let contours = !big;

  const plot = el("div", { id: "landscape-plot", class: "plot", style: "height: 620px" });
  const readout = el("dl", { class: "readout", id: "hover-readout" });
  const stepReadout = el("dl", { class: "readout", id: "step-readout" });
  const slider = el("input", { type: "range", id: "step-slider", min: 0, max: 0, value: 0 });
  const errorsPlot = el("div", { id: "diag-errors", class: "plot" });
  const lossesPlot = el("div", { id: "diag-losses", class: "plot" });
  const lossSelect = el("select", { id: "loss-select" }, meta.losses.map((l) => el("option", { value: l, text: l, ...(l === meta.loss ? { selected: true } : {}) })));
  const trajSelect = el("select", { id: "trajectory-select" }, trajectories.map((t) => el("option", { value: t, text: t })));
  const scaleSelect = el("select", { id: "scale-select" }, ["log", "linear"].map((s) => el("option", { value: s, text: s, ...(s === mode ? { selected: true } : {}) })));
  const contourBox = el("input", { type: "checkbox", id: "contours", ...(contours ? { checked: true } : {}) });
  const base = `/api/runs/${runId}/landscapes/${enc(name)}`;
  const a = meta.attrs;

  function setReadout(dl, entries) {
    dl.replaceChildren(...entries.flatMap(([label, value, field]) => [el("dt", { text: label }),
      el("dd", { dataset: { field } }, value instanceof Node ? value : String(value))]));
  }
  function hover(i0, i1) {
    const j = i1 * land.cols + i0;
    readout.dataset.i0 = i0; readout.dataset.i1 = i1;
    setReadout(readout, [["z₀", fmt(meta.axis_0[i0]), "z0"], ["z₁", fmt(meta.axis_1[i1]), "z1"],
      [meta.loss, valueNode(land.values[j]), "loss"], ["data distance", fmt(land.distance[j]), "data_distance"],
      ["extrapolated", land.extrapolated[j] ? "yes (outside the fitted region)" : "no", "extrapolated"]]);
  }
  function stepAt(index) {
    k = index;
    const d = meta.diagnostics[traj];
    const at = (arr) => (arr ? arr[k] : null);
    stepReadout.dataset.index = k;
    setReadout(stepReadout, [["step", d.steps[k], "step"], ["true loss", valueNode(at(d.true_loss[meta.loss])), "true_loss"],
      ["loss at projection", valueNode(at(d.loss_at_projection[meta.loss])), "loss_at_projection"],
      ["relative loss error", valueNode(at(d.relative_loss_error[meta.loss])), "relative_loss_error"],
      ["range loss error", valueNode(at(d.range_loss_error[meta.loss])), "range_loss_error"],
      ["projection error", valueNode(d.projection_error[k]), "projection_error"],
      ["relative projection error", valueNode(d.relative_projection_error[k]), "relative_projection_error"]]);
    const marker = plot.data.findIndex((t) => t.name === "step marker");
    Plotly.restyle(plot, { x: [[d.coords[k][0]]], y: [[d.coords[k][1]]] }, [marker]);
    const shape = { "shapes[0].x0": d.steps[k], "shapes[0].x1": d.steps[k] };
    Plotly.relayout(errorsPlot, shape); Plotly.relayout(lossesPlot, shape);
  }
  function drawDiagnostics() {
    const d = meta.diagnostics[traj];
    slider.max = d.steps.length - 1;
    const figs = diagnosticsFigures(meta, traj, d.steps[k]);
    Plotly.react(errorsPlot, figs.errors.data, figs.errors.layout, PLOT_CONFIG);
    Plotly.react(lossesPlot, figs.losses.data, figs.losses.layout, PLOT_CONFIG);
  }
  async function draw() {
    const t0 = performance.now();
    const scale = makeScale(scaleArrays(land), mode);
    const traces = landscapeTraces(land, scale, { contours });
    const d = meta.diagnostics[traj];
    if (d) traces.push({ type: "scatter", mode: "markers", name: "step marker", x: [d.coords[k][0]], y: [d.coords[k][1]], hoverinfo: "skip",
                         marker: { size: 16, color: "rgba(0,0,0,0)", line: { color: "#d62728", width: 3 } } });
    await Plotly.react(plot, traces, landscapeLayout(land, scale), PLOT_CONFIG);
    plot.dataset.drawMs = (performance.now() - t0).toFixed(0);
    plot.dataset.scale = scale.kind;
    status(`${land.cols}×${land.rows} grid drawn in ${plot.dataset.drawMs} ms`);
  }
  const exportButton = (fmtName) => el("button", { onclick: () => Plotly.downloadImage(plot, { format: fmtName, filename: `${name}-${meta.loss}`, width: 1000, height: 800 }), text: `view ${fmtName.toUpperCase()}` });
  const lossParam = `loss=${enc(meta.loss)}`;
  main.append(
    el("h1", {}, `${name} `, el("span", { class: "muted", text: `${a.method} · ${land.cols}×${land.rows} · ${meta.loss}` })),
    el("div", { class: "row" }, el("label", {}, "loss ", lossSelect), el("label", {}, "colour scale ", scaleSelect),
      el("label", {}, contourBox, " contour lines"), el("label", {}, "trajectory ", trajSelect),
      el("span", {}, el("span", { class: "legend-nan" }), " not evaluable (NaN)"),
      el("span", { class: "muted" }, "dashed box: region the manifold was fitted on; outside it is extrapolated")),
    el("div", { class: "grid2" }, plot,
      el("div", {}, el("div", { class: "card" }, el("h3", {}, "under the cursor"), readout),
        el("div", { class: "card" }, el("h3", {}, "at the slider's step"), slider, stepReadout),
        el("div", { class: "card" }, el("h3", {}, "export"),
          el("div", { class: "row" }, exportButton("png"), exportButton("svg")),
          el("div", { class: "row" }, "figure: ", ...["png", "svg", "pdf"].map((f) => el("a", { href: `${base}/figure.${f}?${lossParam}`, target: "_blank", text: f.toUpperCase() }))),
          el("div", { class: "row" }, el("a", { href: `${base}/grid.csv?${lossParam}`, download: `${name}-${meta.loss}.csv`, id: "csv-link", text: "grid as CSV" }))),
        a.notes ? el("p", { class: "muted", text: `note: ${a.notes}` }) : null)),
    el("div", { style: "display:grid; grid-template-columns: 1fr 1fr; gap: 10px" }, errorsPlot, lossesPlot));
  setReadout(readout, [["", "move the cursor over the map", "hint"]]);
  await draw();
  if (traj) { drawDiagnostics(); stepAt(0); }
  else stepReadout.append(el("p", { class: "muted", text: "no trajectory diagnostics stored" }));
  plot.on("plotly_hover", (event) => {
    const point = event.points[0];
    hover(nearestIndex(meta.axis_0, point.x), nearestIndex(meta.axis_1, point.y));
  });
  slider.addEventListener("input", () => stepAt(Number(slider.value)));
  scaleSelect.addEventListener("change", async () => { mode = scaleSelect.value; await draw(); stepAt(k); });
  contourBox.addEventListener("change", async () => { contours = contourBox.checked; await draw(); stepAt(k); });
  trajSelect.addEventListener("change", async () => { traj = trajSelect.value; k = 0; slider.value = 0; await draw(); drawDiagnostics(); stepAt(0); });
  lossSelect.addEventListener("change", () => { location.hash = `#/landscape/${runId}/${enc(name)}?loss=${enc(lossSelect.value)}&scale=${mode}`; });
}
