// The session board: every session as a card, the questions they wait on with one button per
// answer, and the selected session's screen, kept fresh by the server's wait_for.
//
// The view acts only when its owner presses something: an answer button, Send, Esc or
// Ctrl-C. What it reads by itself (the session list, a session's status and screen) is
// read-only. It sees only the tool results the host hands it; the host holds the connection.

import { PROTOCOL_VERSION, RpcError, connect } from "./bridge.js";
import { screenNodes } from "./ansi.js";

const $ = (sel) => document.querySelector(sel);

/** What the board knows. */
const board = {
  host: "",
  sessions: new Map(),
  profiles: [],
  roots: [],
  complete: false,
  loaded: false,
  selected: null,
  notes: new Map(),
  busy: new Set(),
  toolName: null,
};
let follow = 0;

const host = connect({
  onNotification(method, params) {
    if (method === "ui/notifications/tool-input") {
      const session = params.arguments?.session;
      if (typeof session === "string" && !board.selected) board.selected = session;
    } else if (method === "ui/notifications/tool-result") {
      ingest(params, true);
    } else if (method === "ui/notifications/host-context-changed") {
      applyContext(params);
    }
  },
  onRequest(method) {
    if (method === "ui/resource-teardown" || method === "ping") return {};
    throw Object.assign(new Error(`unknown method ${method}`), { code: -32601 });
  },
});

// --- talking to the server through the host ---------------------------------------------

/** Calls a server tool; resolves with { result } or { error } (a refusal, as a sentence). */
async function call(name, args) {
  try {
    const result = await host.request("tools/call", { name, arguments: args });
    if (result?.isError) return { error: textOf(result) || `${name} failed`, result };
    return { result };
  } catch (err) {
    return { error: refusal(err) };
  }
}

function textOf(result) {
  return (result?.content || [])
    .filter((c) => c?.type === "text")
    .map((c) => c.text)
    .join("\n");
}

/** A host or server refusal in words; a missing scope says so plainly. */
function refusal(err) {
  const msg = err instanceof RpcError || err instanceof Error ? err.message : String(err);
  if (/insufficient_scope|\b403\b/.test(msg)) {
    return "Refused: this connection's token may only read (it lacks sessions:write). Nothing was sent.";
  }
  return `Refused: ${msg}`;
}

// --- the model --------------------------------------------------------------------------

/** Takes in a tool result: a `board` object, and a screen from get_logs. */
function ingest(result, fromHost) {
  const sc = result?.structuredContent;
  if (sc && typeof sc === "object") {
    const b = sc.board;
    if (b && Array.isArray(b.sessions)) {
      if (b.complete) board.sessions.clear();
      for (const s of b.sessions) if (s && typeof s.name === "string") board.sessions.set(s.name, s);
      board.host = typeof b.host === "string" ? b.host : board.host;
      if (Array.isArray(b.profiles)) board.profiles = b.profiles;
      if (Array.isArray(b.allowed_roots)) board.roots = b.allowed_roots;
      board.complete ||= !!b.complete;
      board.loaded = true;
    }
    if (typeof sc.session === "string" && typeof sc.text === "string") {
      board.selected = sc.session;
      showScreen(sc.session, sc.text);
    }
  }
  // A result about one session (its status) opens that session's screen.
  const one = sc?.board && !sc.board.complete && sc.board.sessions?.length === 1 ? sc.board.sessions[0].name : null;
  if (fromHost && one && !board.selected) board.selected = one;
  render();
  if (fromHost) {
    if (!board.complete) loadList();
    if (board.selected) startFollowing(board.selected);
  }
}

async function loadList() {
  const { result } = await call("list_sessions", {});
  if (result) ingest(result, false);
}

async function refreshSession(name) {
  const { result } = await call("get_session_status", { session: name });
  if (result) ingest(result, false);
}

// --- actions the owner takes ----------------------------------------------------------

async function answer(name, prompt, option) {
  if (board.busy.has(name)) return;
  const reply = option.number != null ? String(option.number) : option.label;
  board.busy.add(name);
  board.notes.set(name, { kind: "pending", text: `Answering “${option.label}”…` });
  render();
  const { result, error } = await call("respond_to_prompt", {
    session: name,
    answer: reply,
    question: prompt.question,
  });
  board.busy.delete(name);
  if (error) {
    board.notes.set(name, { kind: "error", text: error });
  } else {
    const gone = result?.structuredContent?.prompt_gone;
    board.notes.set(name, {
      kind: gone ? "ok" : "warn",
      text: gone ? `Answered “${option.label}”.` : `Sent “${option.label}”, but the same question is still on screen.`,
    });
  }
  render();
  await refreshSession(name);
}

async function sendMessage(name, text) {
  const { error } = await call("send_message", { session: name, message: text });
  setDetailNote(error ? { kind: "error", text: error } : { kind: "ok", text: `Sent to ${name}.` });
  return !error;
}

async function sendKey(name, key, label) {
  const { error } = await call("send_keys", { session: name, keys: [key] });
  setDetailNote(error ? { kind: "error", text: error } : { kind: "ok", text: `Pressed ${label} in ${name}.` });
}

// --- the selected session's screen ------------------------------------------------------

async function startFollowing(name) {
  const mine = ++follow;
  let last = 0;
  while (board.selected === name && mine === follow) {
    const logs = await call("get_logs", { session: name, lines: 200, escapes: true });
    if (mine !== follow) return;
    if (logs.error) {
      setDetailNote({ kind: "error", text: logs.error });
      return;
    }
    showScreen(name, logs.result.structuredContent?.text ?? textOf(logs.result));
    const s = board.sessions.get(name);
    if (s && (s.state === "finished" || s.state === "exited")) return;
    // At most one round a second, however fast the screen changes.
    const wait = 1000 - (Date.now() - last);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    last = Date.now();
    const changed = await call("wait_for", { session: name, until: "change", timeout_s: 50 });
    if (mine !== follow) return;
    if (changed.error) {
      setDetailNote({ kind: "error", text: `Live view stopped: ${changed.error}` });
      return;
    }
    await refreshSession(name);
  }
}

function select(name) {
  if (board.selected === name) return;
  board.selected = name;
  setDetailNote(null);
  $("#screen").replaceChildren();
  render();
  startFollowing(name);
}

function showScreen(name, text) {
  if (board.selected !== name) return;
  const pre = $("#screen");
  const atBottom = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 24;
  pre.replaceChildren(...screenNodes(text));
  if (atBottom) pre.scrollTop = pre.scrollHeight;
}

function setDetailNote(note) {
  const el = $("#detail-note");
  el.textContent = note ? note.text : "";
  el.className = `note ${note ? note.kind : ""}`;
}

// --- drawing ----------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "class") e.className = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c != null && c !== false) e.append(c);
  return e;
}

function ago(iso) {
  const t = Date.parse(iso || "");
  if (!Number.isFinite(t)) return "";
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

function badge(s) {
  const text = {
    working: "working",
    idle: "idle",
    waiting: "waiting for you",
    finished: "finished",
    exited: s.signal != null ? `exited (signal ${s.signal})` : `exited (code ${s.exit_code ?? "?"})`,
    unknown: "running",
  }[s.state] || s.state;
  return el("span", { class: `badge ${s.state}` }, text);
}

function card(s) {
  const selected = board.selected === s.name;
  const busy = board.busy.has(s.name);
  const note = board.notes.get(s.name);
  const p = s.state === "waiting" ? s.prompt : null;
  const meta = [s.host || board.host, s.profile && `profile ${s.profile}`, s.command].filter(Boolean).join(" · ");
  return el(
    "article",
    { class: `card ${s.state}${selected ? " selected" : ""}`, "data-session": s.name },
    el(
      "button",
      { class: "head", type: "button", "aria-pressed": selected ? "true" : "false", "data-focus": `${s.name}\nhead`, onclick: () => select(s.name) },
      el("span", { class: "name" }, s.name),
      badge(s),
    ),
    el("div", { class: "meta" }, meta),
    el(
      "div",
      { class: "meta dir" },
      el("span", { class: "path" }, s.directory || ""),
      el("span", { class: "when" }, ago(s.last_activity)),
    ),
    p &&
      el(
        "div",
        { class: "prompt" },
        el("p", { class: "question" }, p.question),
        p.context?.length ? el("pre", { class: "context" }, p.context.join("\n")) : null,
        el(
          "div",
          { class: "options", role: "group", "aria-label": `Answers to: ${p.question}` },
          (p.options || []).map((o) =>
            el(
              "button",
              {
                type: "button",
                class: "option",
                disabled: busy,
                "data-label": o.label,
                "data-focus": `${s.name}\n${o.label}`,
                onclick: () => answer(s.name, p, o),
              },
              o.number != null ? `${o.number}. ${o.label}` : o.label,
            ),
          ),
        ),
      ),
    note && el("p", { class: `note ${note.kind}`, role: "status" }, note.text),
  );
}

function render() {
  const list = $("#sessions");
  // Cards are drawn afresh; the control that had the keyboard focus gets it back.
  const focused = list.contains(document.activeElement) ? document.activeElement.dataset.focus : null;
  $("#host").textContent = board.host ? `on ${board.host}` : "";
  const sessions = [...board.sessions.values()];
  // Waiting sessions first, then by name: the ones that need the owner are on top.
  const rank = (s) => (s.state === "waiting" ? 0 : s.state === "working" || s.state === "idle" || s.state === "unknown" ? 1 : 2);
  sessions.sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
  if (board.loaded && sessions.length === 0) {
    list.replaceChildren(
      el(
        "div",
        { class: "empty" },
        el("p", {}, "No sessions yet."),
        el("p", {}, "Ask the assistant to start one with create_session, for example “start Claude Code in my project”."),
        board.profiles.length ? el("p", { class: "meta" }, `Profiles: ${board.profiles.join(", ")}`) : null,
        board.roots.length ? el("p", { class: "meta" }, `Folders under: ${board.roots.join(", ")}`) : null,
      ),
    );
  } else if (!board.loaded) {
    list.replaceChildren(el("p", { class: "meta" }, "Waiting for the sessions…"));
  } else {
    list.replaceChildren(...sessions.map(card));
  }
  if (focused) {
    // The same control, or else its card's head (an answered question's buttons are gone).
    const all = [...list.querySelectorAll("[data-focus]")];
    const head = `${focused.split("\n")[0]}\nhead`;
    const again = all.find((e) => e.dataset.focus === focused && !e.disabled) || all.find((e) => e.dataset.focus === head);
    again?.focus({ preventScroll: true });
  }
  const sel = board.selected && board.sessions.get(board.selected);
  const detail = $("#detail");
  detail.hidden = !board.selected;
  $("#detail-title").textContent = board.selected || "";
  const live = sel && sel.state !== "finished" && sel.state !== "exited";
  for (const b of detail.querySelectorAll("[data-live]")) b.disabled = !live;
  $("#detail-state").replaceChildren(sel ? badge(sel) : "");
}

// --- theme and host context ---------------------------------------------------------------

function applyContext(ctx) {
  if (!ctx || typeof ctx !== "object") return;
  const root = document.documentElement;
  if (ctx.theme === "light" || ctx.theme === "dark") root.dataset.theme = ctx.theme;
  const vars = ctx.styles?.variables;
  if (vars && typeof vars === "object") {
    for (const [k, v] of Object.entries(vars)) if (k.startsWith("--") && typeof v === "string") root.style.setProperty(k, v);
  }
  if (typeof ctx.displayMode === "string") root.dataset.display = ctx.displayMode;
  const inset = ctx.safeAreaInsets;
  if (inset) {
    for (const side of ["top", "right", "bottom", "left"]) {
      if (typeof inset[side] === "number") root.style.setProperty(`--inset-${side}`, `${inset[side]}px`);
    }
  }
}

// --- start ------------------------------------------------------------------------------

function wire() {
  $("#refresh").addEventListener("click", loadList);
  $("#message").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const input = $("#message-text");
    const text = input.value;
    if (!board.selected || text.trim() === "") return;
    if (await sendMessage(board.selected, text)) input.value = "";
  });
  $("#key-esc").addEventListener("click", () => board.selected && sendKey(board.selected, "Escape", "Esc"));
  $("#key-ctrl-c").addEventListener("click", () => board.selected && sendKey(board.selected, "C-c", "Ctrl-C"));
  // The host sizes an inline frame to its content.
  let last = "";
  new ResizeObserver(() => {
    const r = document.documentElement.getBoundingClientRect();
    const size = `${Math.ceil(r.width)}x${Math.ceil(r.height)}`;
    if (size === last) return;
    last = size;
    host.notify("ui/notifications/size-changed", { width: Math.ceil(r.width), height: Math.ceil(r.height) });
  }).observe(document.documentElement);
}

async function start() {
  wire();
  render();
  try {
    const init = await host.request("ui/initialize", {
      appInfo: { name: "sessiongate-board", version: "1.0.0" },
      appCapabilities: { availableDisplayModes: ["inline", "fullscreen"] },
      protocolVersion: PROTOCOL_VERSION,
    });
    applyContext(init?.hostContext);
    board.toolName = init?.hostContext?.toolInfo?.tool?.name || null;
    host.notify("ui/notifications/initialized", {});
  } catch (err) {
    setDetailNote({ kind: "error", text: `The host did not start the board: ${err.message}` });
  }
}

start();
