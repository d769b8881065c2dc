// The Label page's answer form: a Streamlit v2 component (no iframe, no build step).
//
// Label toggles and the note live here, in the browser, so keys cost no server round trip and
// none is lost at any speed. The whole answer reaches the server as ONE trigger,
// `submit = {paragraph_id, token, answer, labels, note, seq}`, naming the rendering the
// annotator saw; the server saves it only if that token is still the annotator's claim.
// After a submission the form is locked until the server answers (a new paragraph, or an `ack`
// of `seq` with a message): keys pressed meanwhile are dropped and the page says so, so a key
// meant for one paragraph is never applied to another.

const TEXT_TYPES = new Set(["text", "search", "email", "url", "tel", "password", "number", ""]);

function realTarget(event) {
  const path = event.composedPath ? event.composedPath() : [];
  return path.length ? path[0] : event.target;
}

function isTextField(el) {
  if (!el || !el.tagName) return false;
  if (el.isContentEditable) return true;
  const tag = el.tagName.toLowerCase();
  if (tag === "textarea") return true;
  if (tag !== "input") return false;
  if (!TEXT_TYPES.has((el.getAttribute("type") || "").toLowerCase())) return false;
  // A closed select box (Streamlit's selectbox is an input with role=combobox) is not a text
  // field for our keys: after choosing an option, the keys work again.
  if (el.getAttribute("role") === "combobox" && el.getAttribute("aria-expanded") !== "true") return false;
  return true;
}

function inSidebar(el) {
  return !!(el && el.closest && el.closest('[data-testid="stSidebar"]'));
}

function installKeys() {
  if (window.__pmcLabelKeys) return;
  window.__pmcLabelKeys = true;
  window.addEventListener("keydown", (event) => {
    const form = window.__pmcLabelForm;
    if (!form || !form.root.isConnected) return;
    form.onKey(event);
  }, true);
  // After any sidebar change, give the keys back to the page.
  document.addEventListener("change", (event) => {
    const el = realTarget(event);
    if (inSidebar(el) && !isTextField(el) && el.blur) setTimeout(() => el.blur(), 0);
  }, true);
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) if (child) node.appendChild(child);
  return node;
}

export default function (component) {
  const { data, setTriggerValue, parentElement } = component;
  installKeys();
  let root = parentElement.querySelector(".pmc-form");
  if (!root) {
    root = el("div", { class: "pmc-form" });
    parentElement.appendChild(root);
    root.__state = { token: null, labels: new Set(), pending: 0, seq: 0, dropped: 0 };
  }
  const state = root.__state;
  const labels = data.labels || [];
  const byKey = {};
  labels.forEach((label) => { byKey[label.key] = label.id; });

  function status(text, kind) {
    const line = root.querySelector(".pmc-status");
    if (!line) return;
    line.textContent = text || "";
    line.className = "pmc-status" + (kind ? " " + kind : "");
  }

  function paint() {
    root.querySelectorAll("button.pmc-label").forEach((button) => {
      const on = state.labels.has(button.dataset.label);
      button.setAttribute("aria-pressed", on ? "true" : "false");
      button.classList.toggle("on", on);
    });
    root.classList.toggle("pending", state.pending > 0);
  }

  function send(answer) {
    if (state.pending) { drop(answer === "accept" ? "Enter" : answer); return; }
    state.seq += 1;
    state.pending = state.seq;
    const note = root.querySelector("textarea.pmc-note");
    const chosen = labels.map((l) => l.id).filter((id) => state.labels.has(id));
    paint();
    status("Saving…", "busy");
    setTriggerValue("submit", {
      paragraph_id: data.paragraph_id, token: data.token, answer,
      labels: answer === "none" ? [] : chosen, note: note ? note.value : "", seq: state.seq,
    });
  }

  function back() {
    if (state.pending) { drop("B"); return; }
    state.seq += 1;
    state.pending = state.seq;
    paint();
    status("Opening your previous answer…", "busy");
    setTriggerValue("back", { token: data.token, seq: state.seq });
  }

  function drop(key) {
    state.dropped += 1;
    root.setAttribute("data-dropped", String(state.dropped));
    status(`Key ${key} ignored: the next paragraph is loading (nothing was applied to it).`, "warn");
  }

  function toggle(id) {
    if (state.pending) { drop(String(labels.findIndex((l) => l.id === id) + 1)); return; }
    if (state.labels.has(id)) state.labels.delete(id); else state.labels.add(id);
    paint();
  }

  function build() {
    root.replaceChildren();
    root.setAttribute("data-token", data.token);
    root.setAttribute("data-paragraph", data.paragraph_id);
    root.setAttribute("data-dropped", String(state.dropped));
    const text = el("div", { class: "pmc-text", lang: data.lang || null });
    text.innerHTML = data.html;  // built and escaped by the server (highlight_html)
    root.appendChild(text);
    root.appendChild(el("div", { class: "pmc-ask", text: "Which measures does this paragraph describe?" }));
    const list = el("div", { class: "pmc-labels" });
    labels.forEach((label) => {
      const button = el("button", { type: "button", class: "pmc-label", "data-label": label.id,
                                    title: label.definition, "aria-pressed": "false" },
        el("kbd", { text: label.key }),
        el("span", { class: "pmc-swatch", style: `background:${label.colour}` }),
        el("span", { class: "pmc-name", text: label.name }));
      if (label.p !== null && label.p !== undefined) {
        const bar = el("span", { class: "pmc-bar", title: `model probability ${Math.round(label.p * 100)}%, threshold ${Math.round(label.t * 100)}%` },
          el("span", { class: "fill" + (label.p >= label.t ? " over" : ""), style: `width:${(label.p * 100).toFixed(1)}%` }),
          el("i", { style: `left:${(label.t * 100).toFixed(1)}%` }));
        button.appendChild(bar);
        button.appendChild(el("span", { class: "pmc-p", text: `${Math.round(label.p * 100)}%` }));
      }
      button.addEventListener("click", () => toggle(label.id));
      const help = el("button", { type: "button", class: "pmc-help", title: `Codebook: ${label.name}`,
                                  "aria-expanded": "false", text: "?" });
      const definition = el("div", { class: "pmc-definition", hidden: true, text: label.definition });
      help.addEventListener("click", () => {
        const open = definition.hidden;
        definition.hidden = !open;
        help.setAttribute("aria-expanded", open ? "true" : "false");
      });
      list.appendChild(el("div", { class: "pmc-row" }, button, help));
      list.appendChild(definition);
    });
    root.appendChild(list);
    const note = el("textarea", { class: "pmc-note", rows: 1, "aria-label": "Note",
      placeholder: "Note for the reviewer (optional) — Ctrl+Enter saves, Esc leaves the note" });
    note.value = data.note || "";
    root.appendChild(note);
    const actions = el("div", { class: "pmc-actions" });
    const action = (name, label, key, cls) => {
      const button = el("button", { type: "button", class: "pmc-action " + (cls || ""), "data-action": name },
        el("span", { text: label }), el("kbd", { text: key }));
      button.addEventListener("click", () => (name === "back" ? back() : send(name)));
      actions.appendChild(button);
    };
    action("accept", "Save & next", "Enter", "primary");
    action("none", "None of these", "0");
    action("skip", "Skip", "K");
    action("flag", "Flag for review", "F");
    action("back", "Back", "B");
    root.appendChild(actions);
    root.appendChild(el("div", { class: "pmc-keys", text:
      `Keys: 1–${labels.length} tick or untick · Enter save & next · 0 none of these · K skip · F flag · B back · ` +
      "in the note: Ctrl+Enter save, Esc leave" }));
    root.appendChild(el("div", { class: "pmc-status", role: "status", "aria-live": "polite" }));
  }

  const api = {
    root,
    onKey(event) {
      const target = realTarget(event);
      const inNote = target && target.classList && target.classList.contains("pmc-note");
      if (inNote) {
        if (event.key === "Escape") { target.blur(); event.preventDefault(); }
        else if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); send("accept"); }
        return;
      }
      if (isTextField(target) || event.altKey || event.ctrlKey || event.metaKey) return;
      const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
      let handled = true;
      if (byKey[key]) toggle(byKey[key]);
      else if (key === "Enter") send("accept");
      else if (key === "0") send("none");
      else if (key === "k") send("skip");
      else if (key === "f") send("flag");
      else if (key === "b") back();
      else handled = false;
      if (handled) { event.preventDefault(); event.stopPropagation(); }
    },
  };
  window.__pmcLabelForm = api;

  if (state.token !== data.token) {
    state.token = data.token;
    state.labels = new Set(data.prefill || []);
    state.pending = 0;
    build();
    paint();
    if (data.message) status(data.message.text, data.message.kind);
  } else if (state.pending && (data.ack || 0) >= state.pending) {
    state.pending = 0;
    paint();
    status(data.message ? data.message.text : "", data.message ? data.message.kind : "");
  }
  // Keys belong to the page: a sidebar control that kept focus after a change lets go of it.
  const active = document.activeElement;
  if (inSidebar(active) && !isTextField(active) && active.blur) active.blur();
  return () => { if (window.__pmcLabelForm === api) window.__pmcLabelForm = null; };
}
