// kgrec page: ask for recommendations, list them with their explanation sentence, and
// show a clicked one's explanation subgraph (an SVG drawn by the server).
"use strict";

const $ = (id) => document.getElementById(id);
const HINTS = {
  query: "Ask in words: genres, decades, people, movies it should be like.",
  liked: "Titles you liked, separated by ';' (suggestions appear as you type).",
  user: "A user id of the training data",
};
const PLACEHOLDERS = {
  query: "a 90s crime film like Pulp Fiction",
  liked: "Heat; Casino",
  user: "1",
};
let exampleUsers = [];

function mode() {
  return document.querySelector("input[name=mode]:checked").value;
}

function setStatus(text, isError) {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("error", Boolean(isError));
}

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const response = await fetch(path, init);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(data.detail || `${response.status} ${response.statusText}`);
  }
  return data;
}

function movieLine(m) {
  const year = m.year ? ` (${m.year})` : "";
  return `${m.title}${year}`;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function showGraph(rec, item) {
  document.querySelectorAll(".result.selected").forEach((n) => n.classList.remove("selected"));
  item.classList.add("selected");
  $("graph").hidden = false;
  $("graph-title").textContent = movieLine(rec);
  $("graph-meta").textContent = rec.genres.join(", ");
  const holder = $("graph-svg");
  holder.replaceChildren();
  if (rec.graph_svg) {
    const doc = new DOMParser().parseFromString(rec.graph_svg, "image/svg+xml");
    holder.appendChild(document.importNode(doc.documentElement, true));
  }
  const list = $("graph-text");
  list.replaceChildren(...rec.explanations.map((e) => element("li", null, e.text)));
}

function showResults(recs) {
  const list = $("results");
  list.replaceChildren();
  $("graph").hidden = true;
  for (const rec of recs) {
    const item = element("li", "result");
    item.tabIndex = 0;
    item.dataset.itemId = rec.item_id;
    item.append(element("div", "title", movieLine(rec)),
                element("p", "meta", rec.genres.join(", ")),
                element("p", "explanation", rec.explanation || "(no explanation path found)"));
    item.addEventListener("click", () => showGraph(rec, item));
    item.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); showGraph(rec, item); }
    });
    list.appendChild(item);
  }
}

function requestBody(text) {
  const body = { k: 10, explain: true, graph: true };
  const m = mode();
  if (m === "liked") body.liked = text.split(";").map((t) => t.trim()).filter(Boolean);
  else if (m === "user") body.user = text.trim();
  else body.query = text;
  return body;
}

async function submit(event) {
  event.preventDefault();
  const text = $("q").value;
  if (!text.trim()) return;
  setStatus("Thinking…");
  try {
    const data = await api("/v1/recommend", requestBody(text));
    showResults(data.recommendations);
    setStatus(data.recommendations.length
      ? `Top ${data.recommendations.length}. Click one to see why.` : "No movie matches.");
  } catch (error) {
    showResults([]);
    setStatus(error.message, true);
  }
}

let suggestTimer = null;
function suggest() {
  if (mode() !== "liked") return;
  clearTimeout(suggestTimer);
  suggestTimer = setTimeout(async () => {
    const parts = $("q").value.split(";");
    const last = parts.pop().trim();
    const before = parts.map((t) => t.trim()).filter(Boolean);
    if (last.length < 2) return;
    try {
      const data = await api(`/v1/movies?limit=8&search=${encodeURIComponent(last)}`);
      $("titles").replaceChildren(...data.movies.map((m) => {
        const option = document.createElement("option");
        option.value = [...before, m.title].join("; ");
        option.label = movieLine(m);
        return option;
      }));
    } catch (error) { /* suggestions are optional */ }
  }, 150);
}

function changeMode() {
  const m = mode();
  const hint = m === "user" && exampleUsers.length
    ? `${HINTS.user}, e.g. ${exampleUsers.slice(0, 4).join(", ")}.` : HINTS[m];
  $("hint").textContent = hint;
  $("q").placeholder = PLACEHOLDERS[m];
  $("titles").replaceChildren();
}

async function init() {
  $("ask").addEventListener("submit", submit);
  $("q").addEventListener("input", suggest);
  document.querySelectorAll("input[name=mode]").forEach((r) => r.addEventListener("change", changeMode));
  try {
    const info = await api("/v1/model");
    exampleUsers = info.example_users;
    $("model").textContent = `${info.model} model on ${info.dataset}: ` +
      `${info.sizes.users.toLocaleString()} users, ${info.sizes.movies.toLocaleString()} movies`;
    if (exampleUsers.length) PLACEHOLDERS.user = exampleUsers[0];
  } catch (error) {
    setStatus(`The service does not answer: ${error.message}`, true);
  }
}

document.addEventListener("DOMContentLoaded", init);
