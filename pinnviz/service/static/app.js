// The single-page front end: a hash router over the pages. Every page fetches only from this server.

import { comparePage } from "./compare.js";
import { landscapePage } from "./landscape.js";
import { probesPage } from "./probes.js";
import { runPage } from "./run.js";
import { runsPage } from "./runs.js";
import { el, status } from "./util.js";

const routes = [
  [/^#?\/?$/, runsPage],
  [/^#\/run\/([^/?]+)$/, runPage],
  [/^#\/landscape\/([^/?]+)\/([^/?]+)$/, landscapePage],
  [/^#\/compare\/([^/?]+)$/, comparePage],
  [/^#\/probes\/([^/?]+)$/, probesPage],
];

let cleanup = null;

async function route() {
  if (cleanup) { cleanup(); cleanup = null; }
  status("");
  const [path, query] = location.hash.split("?");
  const params = new URLSearchParams(query || "");
  // each visit draws into a fresh container: a slow request of the page left behind lands in a detached node
  const main = el("div", { class: "page" });
  document.getElementById("main").replaceChildren(main);
  for (const [pattern, page] of routes) {
    const match = path.match(pattern);
    if (!match) continue;
    try {
      cleanup = (await page(main, params, ...match.slice(1).map(decodeURIComponent))) || null;
    } catch (error) {
      main.replaceChildren(el("p", { class: "error", text: String(error.message || error) }));
    }
    return;
  }
  main.replaceChildren(el("p", { class: "error", text: `no page at ${location.hash}` }));
}

window.addEventListener("hashchange", route);
route();
