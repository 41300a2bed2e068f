// Jobs panel: launch a CLI command (fit-manifold, landscape, compare, probe) on a run, watch its progress.

import { api, badge, el, enc } from "./util.js";

const KINDS = ["landscape", "fit-manifold", "compare", "probe"];

function progressNode(job) {
  const p = job.progress;
  const fraction = p && p.total ? p.done / p.total : job.status === "completed" ? 1 : 0;
  return el("div", { class: "row" },
    el("div", { class: "progress", style: "flex: 1" }, el("div", { style: `width: ${(100 * fraction).toFixed(1)}%` })),
    el("span", { class: "muted job-progress", text: p ? `${p.stage} ${p.done}/${p.total ?? "?"}` : "" }));
}

function jobNode(job, onCancel) {
  const running = job.status === "running" || job.status === "queued";
  return el("div", { class: "job", dataset: { job: job.id, status: job.status } },
    el("div", { class: "row" }, badge(job.status), el("b", {}, job.kind + (job.probe ? ` ${job.probe}` : "")),
      el("code", {}, "pinnviz " + job.argv.join(" ")),
      running ? el("button", { onclick: () => onCancel(job), text: "cancel" }) : null),
    running || job.status === "completed" ? progressNode(job) : null,
    job.error && job.status !== "running" ? el("div", { class: "error job-error", text: job.error }) : null);
}

export function jobsPanel(runId, onFinished) {
  const list = el("div", { id: "jobs" });
  const form = el("div", { class: "form-grid", id: "job-form" });
  const kind = el("select", { id: "job-kind" }, KINDS.map((k) => el("option", { value: k, text: k })));
  const probe = el("select", { id: "job-probe", style: "display:none" });
  const message = el("span", { class: "error", id: "job-message" });
  const sources = new Map();
  const nodes = new Map();

  function show(job) {
    const node = jobNode(job, cancel);
    if (nodes.has(job.id)) nodes.get(job.id).replaceWith(node); else list.prepend(node);
    nodes.set(job.id, node);
  }
  function watch(job) {
    show(job);
    if (!["queued", "running"].includes(job.status) || sources.has(job.id)) return;
    const source = new EventSource(`/api/jobs/${job.id}/events`);
    sources.set(job.id, source);
    source.addEventListener("job", (event) => {
      const current = JSON.parse(event.data);
      show(current);
      if (!["queued", "running"].includes(current.status)) {
        source.close(); sources.delete(job.id);
        onFinished(current);
      }
    });
    source.onerror = () => { source.close(); sources.delete(job.id); };
  }
  async function cancel(job) {
    show(await api(`/api/jobs/${job.id}`, { method: "DELETE" }));
  }
  let formRequest = 0;
  async function loadForm() {
    // a change event for the kind already shown must not wipe what was typed; an older answer never
    // replaces a newer one
    const request = ++formRequest;
    let spec;
    if (kind.value === "probe") {
      if (!probe.options.length) {
        const probes = (await api("/api/job-options/probe")).probes;
        probe.replaceChildren(...probes.map((p) => el("option", { value: p, text: p })));
      }
      probe.style.display = "";
      spec = await api(`/api/job-options/probe?probe=${enc(probe.value)}`);
    } else {
      probe.style.display = "none";
      spec = await api(`/api/job-options/${kind.value}`);
    }
    const key = kind.value === "probe" ? `probe:${probe.value}` : kind.value;
    if (request !== formRequest || form.dataset.key === key) return;
    form.dataset.key = key;
    form.replaceChildren(...spec.options.map((o) => o.switch
      ? el("label", { title: o.help || "" }, `--${o.flag}`, el("input", { type: "checkbox", name: o.flag, ...(o.default ? { checked: true } : {}) }))
      : el("label", { title: o.help || "" }, `--${o.flag}`,
          el("input", { name: o.flag, placeholder: o.default === null ? "" : String(o.default) }))));
  }
  async function submit() {
    message.textContent = "";
    const options = {};
    for (const input of form.querySelectorAll("input")) {
      if (input.type === "checkbox") { if (input.checked !== (input.defaultChecked)) options[input.name] = input.checked; }
      else if (input.value.trim() !== "") options[input.name] = input.value.trim();
    }
    const body = { run: runId, kind: kind.value, options };
    if (kind.value === "probe") body.probe = probe.value;
    try {
      watch(await api("/api/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }));
    } catch (error) { message.textContent = error.message; }
  }
  kind.addEventListener("change", loadForm);
  probe.addEventListener("change", loadForm);
  const panel = el("div", { class: "card" },
    el("div", { class: "row" }, el("label", {}, "new job "), kind, probe,
      el("button", { class: "primary", id: "job-start", onclick: submit, text: "start" }), message),
    form, list);
  loadForm();
  api("/api/jobs").then((jobs) => jobs.filter((j) => j.run === runId).reverse().forEach(watch));
  panel.close = () => sources.forEach((s) => s.close());
  return panel;
}
