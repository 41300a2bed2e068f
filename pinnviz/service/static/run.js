// Run: loss curves of every trajectory and component, manifolds with their projection errors,
// landscapes, probes and jobs. Curves of a trajectory still training are refreshed every 2 s.

import { jobsPanel } from "./jobs.js";
import { allPositive, api, badge, el, enc, fmt, logAxis, PLOT_CONFIG, setCrumbs, status, trajectoryCurves } from "./util.js";

function lossFigure(component, curvesList) {
  const series = curvesList.filter((c) => c.losses[component]);
  const log = allPositive(series.map((c) => c.losses[component]));
  return {
    data: series.map((c) => ({ x: c.steps, y: c.losses[component], name: `${c.name} (${c.status})`, mode: "lines",
                               type: "scatter", line: { width: c.loss === component ? 2.2 : 1.2 } })),
    layout: { height: 270, margin: { l: 60, r: 10, t: 50, b: 40 }, xaxis: { title: { text: "step" } },
              yaxis: { ...(log ? logAxis(series.map((c) => c.losses[component])) : {}),
                       title: { text: `${component}${log ? " (log)" : ""}` } },
              showlegend: true, legend: { orientation: "h", x: 0, y: 1.0, yanchor: "bottom", font: { size: 11 } } },
  };
}

function manifoldFigure(detail) {
  const traces = Object.entries(detail.trajectories).filter(([, t]) => t.projection_error)
    .map(([name, t]) => ({ x: t.steps, y: t.projection_error, name, mode: "lines+markers", marker: { size: 3 } }));
  const log = allPositive(traces.map((t) => t.y));
  return {
    data: traces,
    layout: { title: { text: `${detail.name} (${detail.method}) · mean rel. projection error ${fmt(detail.report?.mean_projection_error, 3)}`,
                       font: { size: 13 }, x: 0.01, xanchor: "left" },
              height: 270, margin: { l: 60, r: 10, t: 60, b: 40 }, xaxis: { title: { text: "step" } },
              yaxis: { ...(log ? logAxis(traces.map((t) => t.y)) : {}), title: { text: "‖m − D(E(m))‖ / ‖m‖" } },
              legend: { orientation: "h", x: 1, xanchor: "right", y: 1.0, yanchor: "bottom" } },
  };
}

export async function runPage(main, params, runId) {
  let run = await api(`/api/runs/${runId}`);
  setCrumbs([{ text: "runs", href: "#/" }, { text: run.path }]);
  status("");
  const curvesBox = el("div", { class: "grid-curves", style: "display:grid; grid-template-columns: repeat(auto-fill, minmax(440px, 1fr)); gap: 8px" });
  const manifoldsBox = el("div");
  const landscapesBox = el("div", { id: "landscapes" });
  const probesBox = el("div");
  const plots = new Map();
  let timer = null, stopped = false;

  function landscapesTable() {
    if (!run.landscapes.length) return el("p", { class: "muted", text: "no landscapes yet: start a landscape job below" });
    return el("table", {},
      el("thead", {}, el("tr", {}, ...["landscape", "manifold", "method", "grid", "losses", "units"].map((h) => el("th", { text: h })))),
      el("tbody", {}, run.landscapes.map((x) => el("tr", { dataset: { landscape: x.name } },
        el("td", {}, el("a", { href: `#/landscape/${runId}/${enc(x.name)}`, text: x.name })),
        el("td", { text: x.manifold }), el("td", { text: x.method }), el("td", { text: `${x.resolution}×${x.resolution}` }),
        el("td", { text: x.losses.join(", ") }), el("td", { class: "muted", text: x.units || "own" })))));
  }
  function renderLists() {
    landscapesBox.replaceChildren(landscapesTable(),
      run.landscapes.length >= 2 ? el("p", {}, el("a", { href: `#/compare/${runId}`, text: "compare landscapes side by side →" })) : "");
    probesBox.replaceChildren(run.probes.length
      ? el("p", { class: "chips" }, run.probes.map((p) => el("a", { href: `#/probes/${runId}?name=${enc(p.name)}`, text: p.name })))
      : el("p", { class: "muted", text: "no probes stored" }));
  }
  const curves = new Map();
  async function drawCurves(names) {
    for (const name of names) curves.set(name, await trajectoryCurves(runId, name, curves.get(name)));
    if (stopped || !main.isConnected) return;
    const list = run.trajectories.map((t) => curves.get(t.name)).filter(Boolean);
    const components = [...new Set(list.flatMap((c) => Object.keys(c.losses)))];
    for (const component of components) {
      const fig = lossFigure(component, list);
      if (!plots.has(component)) {
        const div = el("div", { class: "plot", dataset: { component } });
        curvesBox.append(div);
        plots.set(component, div);
      }
      Plotly.react(plots.get(component), fig.data, fig.layout, PLOT_CONFIG);
    }
  }
  async function drawManifolds() {
    manifoldsBox.replaceChildren();
    if (!run.manifolds.length) manifoldsBox.append(el("p", { class: "muted", text: "no manifolds fitted" }));
    for (const m of run.manifolds) {
      const detail = await api(`/api/runs/${runId}/manifolds/${enc(m.name)}`);
      const div = el("div", { class: "plot", dataset: { manifold: m.name } });
      manifoldsBox.append(div);
      const fig = manifoldFigure(detail);
      Plotly.newPlot(div, fig.data, fig.layout, PLOT_CONFIG);
    }
  }
  async function poll() {
    const fresh = await api(`/api/runs/${runId}`);
    if (stopped || !main.isConnected) return;
    const running = fresh.trajectories.filter((t) => t.status === "running").map((t) => t.name);
    const changed = JSON.stringify(fresh) !== JSON.stringify(run);
    const wasRunning = run.trajectories.filter((t) => t.status === "running").map((t) => t.name);
    run = fresh;
    if (changed) {
      renderLists();
      header.replaceChildren(headerContent());
      await drawCurves([...new Set([...running, ...wasRunning]), ...fresh.trajectories.map((t) => t.name).filter((n) => !curves.has(n))]);
    }
    timer = setTimeout(poll, running.length ? 2000 : 6000);
  }
  const headerContent = () => el("div", {},
    el("div", { class: "muted" }, "problem: " + Object.entries(run.problem).map(([k, v]) => `${k}=${v}`).join(", ")),
    el("div", { class: "chips" }, run.trajectories.map((t) => el("span", {}, `${t.name} `, badge(t.status)))));
  const header = el("div", {}, headerContent());
  const jobs = jobsPanel(runId, async () => {
    run = await api(`/api/runs/${runId}`);
    renderLists();
    drawManifolds();
  });
  main.append(el("h1", {}, run.path), header,
    el("h2", {}, "Loss curves"), curvesBox,
    el("h2", {}, "Landscapes"), landscapesBox,
    el("h2", {}, "Manifolds: projection error along each trajectory"), manifoldsBox,
    el("h2", {}, "Probes"), probesBox,
    el("h2", {}, "Jobs"), jobs);
  renderLists();
  await drawCurves(run.trajectories.map((t) => t.name));
  await drawManifolds();
  timer = setTimeout(poll, 2000);
  return () => { stopped = true; clearTimeout(timer); jobs.close(); };
}
