// Runs: every store under the served folder; refreshed every few seconds, so training runs update live.

import { api, badge, el, enc, fmt, setCrumbs, sparkline, status, trajectoryCurves } from "./util.js";

function trajectoryRow(run, t, curves) {
  const finals = Object.entries(t.final_losses || {}).map(([k, v]) => `${k} ${fmt(v, 4)}`).join(", ");
  const objective = curves && curves.losses[t.loss];
  return el("tr", { dataset: { trajectory: t.name } },
    el("td", {}, t.name), el("td", {}, badge(t.status)),
    el("td", { class: "num", text: t.rows }),
    el("td", { class: "num", text: t.last_step === null ? "-" : `${t.last_step}/${t.steps}` }),
    el("td", {}, t.loss || ""), el("td", { class: "muted" }, finals),
    el("td", {}, objective ? sparkline(objective) : ""));
}

function runCard(run, curves) {
  if (run.error) return el("div", { class: "card" }, el("h2", {}, run.path), el("p", { class: "error", text: run.error }));
  const m = run.model;
  const problem = Object.entries(run.problem).map(([k, v]) => `${k}=${v}`).join(", ");
  const model = `${m.inputs}-${Array(m.depth).fill(m.width).join("-")}-${m.outputs} ${m.activation} MLP, ${m.params} parameters`;
  const link = (href, text) => el("a", { href, text });
  return el("div", { class: "card run", dataset: { run: run.id, path: run.path } },
    el("h2", {}, link(`#/run/${run.id}`, run.path), " ", run.training ? badge("running") : null),
    el("div", { class: "muted" }, `problem: ${problem}`), el("div", { class: "muted" }, `model: ${model}`),
    el("table", {},
      el("thead", {}, el("tr", {}, ...["trajectory", "status", "rows", "step", "objective", "last losses", ""]
        .map((h) => el("th", { class: h === "rows" || h === "step" ? "num" : null, text: h })))),
      el("tbody", {}, run.trajectories.map((t) => trajectoryRow(run, t, curves[`${run.id}/${t.name}`])))),
    el("div", { class: "chips" }, el("b", {}, "manifolds: "),
      run.manifolds.length ? run.manifolds.map((x) => el("span", {}, `${x.name} (${x.method}, e_proj ${fmt(x.mean_projection_error, 3)})`))
        : el("span", { class: "muted" }, "none")),
    el("div", { class: "chips" }, el("b", {}, "landscapes: "),
      run.landscapes.length ? run.landscapes.map((x) => link(`#/landscape/${run.id}/${enc(x.name)}`, `${x.name} (${x.resolution}²)`))
        : el("span", { class: "muted" }, "none"),
      run.landscapes.length >= 2 ? link(`#/compare/${run.id}`, "compare…") : null),
    el("div", { class: "chips" }, el("b", {}, "probes: "),
      run.probes.length ? run.probes.map((p) => link(`#/probes/${run.id}?name=${enc(p.name)}`, p.name))
        : el("span", { class: "muted" }, "none")));
}

export async function runsPage(main) {
  setCrumbs([{ text: "runs" }]);
  const list = el("div", { id: "runs" });
  main.append(el("h1", {}, "Runs"), list);
  let timer = null, stopped = false;
  const curves = {};
  async function refresh() {
    try {
      const runs = await api("/api/runs");
      for (const run of runs) for (const t of run.trajectories || []) {
        const key = `${run.id}/${t.name}`;
        if (t.status === "running" || (curves[key] && curves[key].steps.length !== t.rows)) curves[key] = await trajectoryCurves(run.id, t.name, curves[key]);
      }
      if (stopped || !main.isConnected) return;
      list.replaceChildren(...(runs.length ? runs.map((r) => runCard(r, curves))
        : [el("p", { class: "muted", text: "no pinnviz stores under the served folder yet" })]));
      status(`${runs.length} store${runs.length === 1 ? "" : "s"} · updated ${new Date().toLocaleTimeString()}`);
      timer = setTimeout(refresh, runs.some((r) => r.training) ? 2000 : 5000);
    } catch (error) {
      list.replaceChildren(el("p", { class: "error", text: error.message }));
    }
  }
  await refresh();
  return () => { stopped = true; clearTimeout(timer); };
}
