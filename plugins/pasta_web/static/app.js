// PASTA web page: plain JavaScript, no framework, no build step, nothing loaded from
// elsewhere. All text from the server or the person is inserted with textContent.
"use strict";

const POLL_MS = 200;
const app = {
  config: null,
  sessionId: null,
  state: null,
  view: null,        // key of the skeleton on show, e.g. "play:<id>:3"
  selected: null,    // the column picked in the interaction phase (0-based)
  showPrompts: false,
  evalStep: null,    // 0..turns-1: a turn under review; turns: the overall score
  timer: null,
  pollFailed: false, // the last poll failed (its notice goes when one succeeds)
  refreshes: 0,      // requests for the session's state so far
  images: new Map(), // url -> <img>, so a re-drawn grid does not reload pictures
  saves: Promise.resolve(), // the evaluation answers being sent, one request at a time
  saveSeq: 0,        // answers sent so far
};

// ---------------------------------------------------------------- helpers

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function words(text) {
  return text.trim() ? text.trim().split(/\s+/).length : 0;
}

function notify(message) {
  const box = document.getElementById("notice");
  box.textContent = message || "";
  box.hidden = !message;
}

async function api(method, path, body) {
  const options = { method, credentials: "same-origin", headers: {} };
  if (method !== "GET") {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body || {});
  }
  const response = await fetch(path, options);
  let data = null;
  try { data = await response.json(); } catch (e) { data = null; }
  if (!response.ok) {
    const error = new Error((data && data.detail) || `request failed (${response.status})`);
    error.status = response.status;
    // 429 and 503 (a limit, a full server) say when to ask again.
    error.retryAfter = Number(response.headers.get("Retry-After")) || 0;
    throw error;
  }
  return data;
}

// A node can sit in one place only: ``place`` keeps the grid's and the belief panel's
// copies of one picture apart.
function picture(url, alt, place = "grid") {
  if (!url) return el("div", { class: "slot pending", "aria-label": "still being made" });
  const key = `${place}|${url}`;
  let img = app.images.get(key);
  if (!img) {
    img = el("img", { src: url, alt: alt, class: "slot", loading: "eager", decoding: "async" });
    app.images.set(key, img);
  }
  return img;
}

function root() { return document.getElementById("app"); }

function setWhere(text) { document.getElementById("where").textContent = text || ""; }

function stopPolling() {
  if (app.timer) { clearTimeout(app.timer); app.timer = null; }
}

// ---------------------------------------------------------------- routing

async function route() {
  stopPolling();
  notify("");
  const match = location.hash.match(/^#\/s\/([0-9a-f]{32})$/);
  app.view = null;
  app.selected = null;
  app.evalStep = null;
  if (match) {
    app.sessionId = match[1];
    await refresh();
  } else {
    app.sessionId = null;
    await showHome();
  }
}

// ``poll``: the server holds the answer until the session shows something newer than the
// version on screen (or a few seconds pass), so waiting costs no requests.
async function refresh(poll = false) {
  stopPolling();
  const id = app.sessionId;
  const seq = ++app.refreshes; // only the latest request's answer is shown (a poll may be slow)
  const shown = poll && app.state && app.state.id === id && app.state.live ? app.state.live.version : null;
  let state;
  try {
    state = await api("GET", `/api/sessions/${id}` + (shown ? `?after=${shown}` : ""));
  } catch (error) {
    if (seq !== app.refreshes) return;
    if (error.status === 404) {
      root().replaceChildren(el("section", { class: "card" },
        el("h2", { text: "Session not found" }),
        el("p", { text: "This session does not exist or belongs to someone else." }),
        el("a", { href: "#/", class: "button", text: "Back to the start" })));
      setWhere("");
      return;
    }
    notify(error.message);
    app.pollFailed = true;
    app.timer = setTimeout(() => refresh(true), Math.min(Math.max(error.retryAfter, 2), 60) * 1000);
    return;
  }
  if (seq !== app.refreshes || id !== app.sessionId) return;
  if (app.pollFailed) { app.pollFailed = false; notify(""); }
  app.state = state;
  if (state.phase === "interaction") showPlay(state);
  else if (state.phase === "evaluation") showEvaluation(state);
  else showDone(state);
}

// ---------------------------------------------------------------- home

async function showHome() {
  setWhere("");
  const count = el("span", { class: "count", id: "prompt-count" });
  const hint = el("p", { class: "gentle", id: "prompt-hint", hidden: true });
  const input = el("input", {
    id: "prompt", type: "text", maxlength: "200", autocomplete: "off",
    placeholder: "e.g. a white cat on a windowsill", "aria-describedby": "prompt-hint",
  });
  const start = el("button", { id: "start", type: "submit", class: "primary", text: "Start", disabled: true });
  const max = app.config.max_prompt_words;
  const check = () => {
    const n = words(input.value);
    count.textContent = `${n} / ${max} words`;
    const over = n > max;
    count.classList.toggle("over", over);
    hint.hidden = !over;
    hint.textContent = over
      ? `That is ${n} words. Please keep it to ${max} or fewer: a short idea is enough, the pictures will add the details.`
      : "";
    start.disabled = n === 0 || over;
  };
  input.addEventListener("input", check);
  const form = el("form", { class: "card", id: "new-session" },
    el("h2", { text: "What would you like to see?" }),
    el("p", { class: "muted", text:
      `Describe a picture in at most ${max} words. You will see ${app.config.slate_size} columns of ` +
      `${app.config.images_per_prompt} pictures; click the column you like best. After ` +
      `${app.config.turns} rounds we ask a few questions about each round.` }),
    el("div", { class: "row" }, input, start), count, hint);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    start.disabled = true;
    try {
      const created = await api("POST", "/api/sessions", { prompt: input.value });
      location.hash = `#/s/${created.id}`;
    } catch (error) {
      notify(error.message);
      check();
    }
  });
  check();
  const list = el("section", { class: "card", id: "my-sessions" }, el("h2", { text: "Your sessions" }));
  root().replaceChildren(form, list);
  input.focus();
  try {
    const { sessions } = await api("GET", "/api/sessions");
    if (!sessions.length) list.append(el("p", { class: "muted", text: "None yet." }));
    const labels = { interaction: "picking", evaluation: "questions", done: "finished" };
    const ul = el("ul", { class: "sessions" });
    for (const s of sessions.slice().reverse()) {
      const action = s.phase === "done" ? "View" : "Continue";
      ul.append(el("li", {},
        el("a", { href: `#/s/${s.id}`, class: "session-link" }, el("strong", { text: `“${s.prompt}”` })),
        el("span", { class: "muted", text: ` — ${labels[s.phase]}, ${s.answered} of ${s.turns} turns · ${action}` })));
    }
    if (sessions.length) list.append(ul);
  } catch (error) {
    notify(error.message);
  }
}

// ---------------------------------------------------------------- interaction phase

function showPlay(state) {
  const live = state.live;
  const key = `play:${state.id}:${live.turn}`;
  if (app.view !== key) {
    app.view = key;
    app.selected = null;
    buildPlay(state);
  }
  updatePlay(state);
  const beliefStale = app.config.belief && (!live.belief || live.belief.clicks < state.answered.length);
  if (live.status === "rendering" || (live.status === "ready" && beliefStale)) {
    app.timer = setTimeout(() => refresh(true), POLL_MS);
  }
}

function buildPlay(state) {
  const live = state.live;
  setWhere(`Turn ${live.turn} of ${state.turns}`);
  const toggle = el("input", { type: "checkbox", id: "show-prompts", checked: app.showPrompts });
  toggle.addEventListener("change", () => {
    app.showPrompts = toggle.checked;
    document.getElementById("grid").classList.toggle("with-prompts", app.showPrompts);
  });
  const steps = el("ol", { class: "steps", "aria-label": "turns" });
  for (let t = 1; t <= state.turns; t++) {
    steps.append(el("li", { class: t < live.turn ? "past" : t === live.turn ? "now" : "", text: String(t) }));
  }
  const critique = el("input", {
    id: "critique", type: "text", maxlength: "200", autocomplete: "off",
    placeholder: "Optional: what should change? (at most 12 words)",
  });
  const critiqueCount = el("span", { class: "count", id: "critique-count", text: "0 / 12 words" });
  const critiqueHint = el("p", { class: "gentle", id: "critique-hint", hidden: true });
  const choose = el("button", { id: "choose", class: "primary", type: "submit", disabled: true, text: "Pick a column" });
  critique.addEventListener("input", () => updateChooseButton());
  const form = el("form", { class: "choose-row", id: "choose-form" },
    el("div", { class: "grow" }, critique, el("div", { class: "under" }, critiqueCount, critiqueHint)), choose);
  form.addEventListener("submit", (event) => { event.preventDefault(); submitChoice(); });

  const board = el("section", { class: "card board" },
    el("div", { class: "board-head" },
      el("div", {},
        el("h2", {}, "Turn ", el("span", { id: "turn-number", text: String(live.turn) }), ` of ${state.turns}`),
        el("p", { class: "muted" }, "Your idea: ", el("q", { id: "intent", text: state.prompt }))),
      steps),
    el("p", { class: "instructions", text:
      "Click the column you like best (judge each column by its best picture), add a critique if you wish, then confirm." }),
    el("label", { class: "toggle" }, toggle, " Show the prompts behind the pictures"),
    el("div", { class: "progress", id: "progress", role: "progressbar", "aria-valuemin": "0" },
      el("div", { class: "bar", id: "progress-bar" }), el("span", { id: "progress-text" })),
    el("div", { class: "grid" + (app.showPrompts ? " with-prompts" : ""), id: "grid" }),
    form);
  const layout = el("div", { class: "layout" }, board);
  if (app.config.belief) {
    layout.append(el("aside", { class: "card belief", id: "belief" },
      el("h2", { text: "What the agent believes" }),
      el("p", { class: "muted small", text:
        "Its guess at which kind of viewer you are, updated after each click, with the pictures each kind likes best so far." }),
      el("div", { id: "belief-types" })));
  }
  root().replaceChildren(layout);
}

function updatePlay(state) {
  const live = state.live;
  const ready = live.status === "ready";
  const progress = document.getElementById("progress");
  const { done, total } = live.progress;
  progress.hidden = ready && done >= total;
  progress.setAttribute("aria-valuenow", String(done));
  progress.setAttribute("aria-valuemax", String(total));
  document.getElementById("progress-bar").style.width = `${total ? (100 * done) / total : 0}%`;
  document.getElementById("progress-text").textContent =
    live.status === "error" ? "" : ready ? "" : `Making pictures… ${done} of ${total}`;

  const grid = document.getElementById("grid");
  const columns = live.columns.map((column, c) => {
    const node = el("div", {
      class: "column" + (app.selected === c ? " selected" : "") + (ready ? "" : " waiting"),
      role: "button", tabindex: ready ? "0" : "-1", "aria-pressed": app.selected === c ? "true" : "false",
      "data-column": String(c), "aria-label": `Column ${c + 1}`,
    },
    el("div", { class: "column-head", text: `Column ${c + 1}` }),
    el("p", { class: "column-prompt", text: column.prompt || "…" }),
    column.images.map((url, m) => picture(url, `column ${c + 1}, picture ${m + 1}`)));
    const pick = () => { if (live.status === "ready") { app.selected = c; updatePlay(app.state); } };
    node.addEventListener("click", pick);
    node.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); pick(); } });
    return node;
  });
  grid.replaceChildren(...columns);
  grid.setAttribute("aria-busy", ready ? "false" : "true");
  const oldRetry = document.getElementById("retry");
  if (oldRetry) oldRetry.remove();
  if (live.status === "error") {
    notify(live.error || "Something went wrong.");
    grid.after(el("button", { class: "secondary", id: "retry", type: "button", text: "Try again", onclick: retry }));
  }
  updateChooseButton();
  if (app.config.belief) updateBelief(live.belief, state.answered.length);
}

function updateChooseButton() {
  const live = app.state.live;
  const critique = document.getElementById("critique");
  const button = document.getElementById("choose");
  if (!critique || !button) return;
  const n = words(critique.value);
  const over = n > app.config.max_critique_words;
  const count = document.getElementById("critique-count");
  count.textContent = `${n} / ${app.config.max_critique_words} words`;
  count.classList.toggle("over", over);
  const hint = document.getElementById("critique-hint");
  hint.hidden = !over;
  hint.textContent = over ? "Please keep the critique short: 12 words at most." : "";
  const ready = live.status === "ready";
  button.disabled = !ready || app.selected === null || over;
  button.textContent = !ready ? "Please wait…" : app.selected === null ? "Pick a column" : `Choose column ${app.selected + 1}`;
}

async function submitChoice() {
  const state = app.state;
  if (app.selected === null || state.live.status !== "ready") return;
  const button = document.getElementById("choose");
  button.disabled = true;
  const critique = document.getElementById("critique").value.trim();
  try {
    await api("POST", `/api/sessions/${state.id}/choice`, {
      turn: state.live.turn, column: app.selected, critique: critique || null,
    });
    await refresh();
  } catch (error) {
    notify(error.message);
    updateChooseButton();
  }
}

async function retry() {
  notify("");
  try { await api("POST", `/api/sessions/${app.sessionId}/retry`, {}); } catch (error) { notify(error.message); }
  app.view = null;
  await refresh();
}

// ``clicks``: the clicks answered so far. The belief is worked out after the grid is on
// show, so for a moment it may be the previous turn's: it is then shown faded, as updating.
function updateBelief(belief, clicks) {
  const box = document.getElementById("belief-types");
  if (!box) return;
  if (!belief) { box.replaceChildren(el("p", { class: "muted", text: "Thinking…" })); return; }
  const stale = belief.clicks < clicks;
  box.classList.toggle("stale", stale);
  box.setAttribute("aria-busy", stale ? "true" : "false");
  const probabilities = belief.types.map((t) => t.probability);
  const best = Math.max(...probabilities);
  const tied = probabilities.filter((p) => p === best).length > 1;
  box.replaceChildren(...belief.types.map((t) => el("div", { class: "type" + (!tied && t.probability === best ? " top" : "") },
    el("div", { class: "type-head" },
      el("span", { text: `Type ${t.type}` }),
      el("span", { class: "pct", text: `${Math.round(100 * t.probability)}%` })),
    el("div", { class: "meter" }, el("div", { class: "fill", "data-p": String(t.probability) })),
    el("div", { class: "examples" }, t.examples.map((url) => picture(url, `a picture type ${t.type} likes`, `type${t.type}`))))));
  // The width is set from script (the security policy allows no inline style attributes).
  for (const fill of box.querySelectorAll(".fill")) fill.style.width = `${100 * Number(fill.dataset.p)}%`;
  const note = el("p", { class: "muted small", text: stale
    ? `Updating for your click ${clicks}… (shown: after ${belief.clicks} click${belief.clicks === 1 ? "" : "s"})`
    : `After ${belief.clicks} click${belief.clicks === 1 ? "" : "s"}.` });
  box.append(note);
}

// ---------------------------------------------------------------- evaluation phase

function evaluationOf(state, turn) {
  return state.evaluation.find((e) => e.turn === turn) ||
    { turn, preferred: null, satisfaction: [], reason: null, comparison: null };
}

function missing(state, turn) {
  const e = evaluationOf(state, turn);
  const columns = state.review[turn - 1].columns.length;
  const gaps = [];
  if (e.preferred === null) gaps.push("your preferred column");
  if (e.satisfaction.length !== columns || e.satisfaction.some((s) => s === null)) gaps.push("a score for every column");
  if (!e.reason) gaps.push("a reason");
  if (turn >= 2 && !e.comparison) gaps.push("the comparison with the previous turn");
  return gaps;
}

function showEvaluation(state) {
  if (app.evalStep === null) {
    const firstGap = state.review.findIndex((r) => missing(state, r.turn).length);
    app.evalStep = firstGap === -1 ? state.review.length : firstGap;
  }
  const key = `eval:${state.id}:${app.evalStep}`;
  if (app.view === key) { updateEvaluationNav(state); return; }
  app.view = key;
  if (app.evalStep >= state.review.length) buildOverall(state);
  else buildReview(state, state.review[app.evalStep]);
  updateEvaluationNav(state);
}

function setEvaluation(turn, answers) {
  const merged = { ...evaluationOf(app.state, turn), ...answers };
  app.state.evaluation = app.state.evaluation.filter((e) => e.turn !== turn).concat([merged]);
}

// Answers are kept on the page at once and sent one request at a time, in order: two
// quick clicks on two columns' scores both count (each request carries every score given
// so far), and the server's reply to an older request never undoes a newer answer.
function saveAnswer(turn, answers) {
  setEvaluation(turn, answers);
  updateEvaluationNav(app.state);
  const seq = ++app.saveSeq;
  const send = async () => {
    try {
      const saved = await api("PUT", `/api/sessions/${app.sessionId}/evaluation/${turn}`, answers);
      if (seq === app.saveSeq) setEvaluation(turn, saved);
      notify("");
    } catch (error) {
      notify(error.message);
      app.view = null;  // show what the server holds
      await refresh();
    }
    updateEvaluationNav(app.state);
  };
  app.saves = app.saves.then(send, send);
  return app.saves;
}

function scale(name, current, onPick, labels) {
  const group = el("div", { class: "scale", role: "radiogroup" });
  for (const value of [1, 2, 3, 4, 5]) {
    const input = el("input", { type: "radio", name, value: String(value), id: `${name}-${value}`, checked: current === value });
    input.addEventListener("change", () => onPick(value));
    group.append(el("label", { for: `${name}-${value}`, title: labels ? labels[value - 1] : null }, input, el("span", { text: String(value) })));
  }
  return group;
}

function buildReview(state, review) {
  const turn = review.turn;
  const answers = evaluationOf(state, turn);
  setWhere(`Questions: turn ${turn} of ${state.review.length}`);
  const columns = review.columns.map((column, c) => {
    const satisfaction = () => {
      const e = evaluationOf(app.state, turn);
      const list = review.columns.map((_, i) => (e.satisfaction[i] === undefined ? null : e.satisfaction[i]));
      return list;
    };
    return el("div", { class: "column review-column" + (review.choice === c ? " picked" : ""), "data-column": String(c) },
      el("div", { class: "column-head" }, `Column ${c + 1}`, review.choice === c ? el("span", { class: "badge", text: "you picked" }) : null),
      el("p", { class: "column-prompt", text: column.prompt }),
      column.images.map((url, m) => picture(url, `turn ${turn}, column ${c + 1}, picture ${m + 1}`)),
      el("div", { class: "question" },
        el("span", { class: "small", text: "How satisfied are you with this column?" }),
        scale(`sat-${turn}-${c}`, answers.satisfaction[c], (value) => {
          const list = satisfaction();
          list[c] = value;
          saveAnswer(turn, { satisfaction: list });
        }, ["not at all", "a little", "somewhat", "quite", "very"])),
      el("label", { class: "prefer" },
        el("input", { type: "radio", name: `preferred-${turn}`, value: String(c), checked: answers.preferred === c,
          onchange: () => saveAnswer(turn, { preferred: c }) }),
        " I prefer this one"));
  });
  const reason = el("textarea", { id: "reason", rows: "2", maxlength: String(app.config.max_reason_chars),
    placeholder: "Why do you prefer that column?" });
  reason.value = answers.reason || "";
  let timer = null;
  const saveReason = () => { clearTimeout(timer); saveAnswer(turn, { reason: reason.value }); };
  reason.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(saveReason, 600); });
  reason.addEventListener("blur", saveReason);

  const parts = [
    el("h2", { text: `Turn ${turn}: looking back` }),
    el("p", { class: "instructions", text:
      "Please confirm which column you prefer, rate every column from 1 (not at all satisfied) to 5 (very satisfied), and say why." }),
    el("div", { class: "grid review" }, columns),
    el("label", { class: "block", for: "reason" }, "Why do you prefer that column?"), reason,
  ];
  if (turn >= 2) {
    const previous = state.review[turn - 2];
    const strip = previous.columns[previous.choice].images.map((url, m) => picture(url, `turn ${turn - 1} pick, picture ${m + 1}`, "strip"));
    const group = el("div", { class: "compare", role: "radiogroup", id: "comparison" });
    for (const option of ["better", "same", "worse"]) {
      group.append(el("label", {},
        el("input", { type: "radio", name: `comparison-${turn}`, value: option, checked: answers.comparison === option,
          onchange: () => saveAnswer(turn, { comparison: option }) }), ` ${option}`));
    }
    parts.push(el("div", { class: "previous" },
      el("p", { text: `Compared with turn ${turn - 1} (the column you picked then is shown here), are this turn's pictures better, the same, or worse?` }),
      el("div", { class: "strip" }, strip), group));
  }
  parts.push(navRow(state));
  root().replaceChildren(el("section", { class: "card evaluation", id: `review-${turn}` }, parts));
}

function buildOverall(state) {
  setWhere("Questions: overall");
  root().replaceChildren(el("section", { class: "card evaluation", id: "overall" },
    el("h2", { text: "Overall" }),
    el("p", { text: "Overall, how satisfied are you with the pictures this session gave you? (1 = not at all, 5 = very)" }),
    scale("overall-score", state.overall, async (value) => {
      try {
        await api("PUT", `/api/sessions/${state.id}/overall`, { score: value });
        app.state.overall = value;
        notify("");
        updateEvaluationNav(app.state);
      } catch (error) { notify(error.message); }
    }),
    navRow(state)));
}

function navRow(state) {
  const back = el("button", { class: "secondary", id: "back", type: "button", text: "Back",
    onclick: () => { app.evalStep -= 1; app.view = null; showEvaluation(app.state); } });
  const next = el("button", { class: "primary", id: "next", type: "button", text: "Next",
    onclick: async () => {
      if (app.evalStep < app.state.review.length) { app.evalStep += 1; app.view = null; showEvaluation(app.state); window.scrollTo(0, 0); return; }
      next.disabled = true;
      try {
        await app.saves;  // every answer stored before the session is finished
        await api("POST", `/api/sessions/${app.sessionId}/finish`, {});
        app.view = null;
        await refresh();
      } catch (error) { notify(error.message); next.disabled = false; }
    } });
  return el("div", { class: "nav-row" }, back, el("span", { class: "muted small", id: "still-missing" }), next);
}

function updateEvaluationNav(state) {
  const back = document.getElementById("back");
  const next = document.getElementById("next");
  const note = document.getElementById("still-missing");
  if (!next) return;
  back.disabled = app.evalStep === 0;
  if (app.evalStep < state.review.length) {
    const gaps = missing(state, state.review[app.evalStep].turn);
    next.disabled = gaps.length > 0;
    next.textContent = app.evalStep + 1 < state.review.length ? "Next turn" : "Last question";
    note.textContent = gaps.length ? `Still needed: ${gaps.join(", ")}.` : "";
  } else {
    next.disabled = !state.overall;
    next.textContent = "Finish";
    note.textContent = state.overall ? "" : "Still needed: your overall score.";
  }
}

// ---------------------------------------------------------------- done

function showDone(state) {
  app.view = `done:${state.id}`;
  setWhere("Finished");
  root().replaceChildren(el("section", { class: "card done", id: "done" },
    el("h2", { text: "Thank you!" }),
    el("p", {}, "Your answers are saved. Your completion code is ", el("strong", { id: "completion-code", text: state.completion_code || "" }), "."),
    el("a", { href: "#/", class: "button", text: "Start another session" })));
}

// ---------------------------------------------------------------- start

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", async () => {
  try {
    app.config = await api("GET", "/api/config");
  } catch (error) {
    notify(error.message);
    return;
  }
  await route();
});
