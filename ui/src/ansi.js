// A terminal screen with colour escapes (SGR) as DOM nodes: text goes in as text nodes only,
// so nothing on a screen can become markup. Escapes other than SGR are dropped.

const SGR = /\x1b\[([0-9;:]*)m/g;
const OTHER = /\x1b(?:\[[0-9;?:<=>]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[()][A-Za-z0-9]|[=>78DEHMNOZc])/g;

const PALETTE = [
  "#000000", "#cd3131", "#0dbc79", "#e5e510", "#2472c8", "#bc3fbc", "#11a8cd", "#e5e5e5",
  "#666666", "#f14c4c", "#23d18b", "#f5f543", "#3b8eea", "#d670d6", "#29b8db", "#ffffff",
];

function color256(n) {
  if (n < 16) return `var(--ansi-${n}, ${PALETTE[n]})`;
  if (n < 232) {
    const i = n - 16;
    const v = (c) => (c === 0 ? 0 : 55 + c * 40);
    return `rgb(${v(Math.floor(i / 36))},${v(Math.floor(i / 6) % 6)},${v(i % 6)})`;
  }
  const g = 8 + (n - 232) * 10;
  return `rgb(${g},${g},${g})`;
}

function apply(style, codes) {
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i];
    if (c === 0) Object.assign(style, { fg: null, bg: null, bold: false, dim: false, italic: false, underline: false, inverse: false });
    else if (c === 1) style.bold = true;
    else if (c === 2) style.dim = true;
    else if (c === 3) style.italic = true;
    else if (c === 4) style.underline = true;
    else if (c === 7) style.inverse = true;
    else if (c === 22) style.bold = style.dim = false;
    else if (c === 23) style.italic = false;
    else if (c === 24) style.underline = false;
    else if (c === 27) style.inverse = false;
    else if (c >= 30 && c <= 37) style.fg = color256(c - 30);
    else if (c >= 90 && c <= 97) style.fg = color256(c - 90 + 8);
    else if (c >= 40 && c <= 47) style.bg = color256(c - 40);
    else if (c >= 100 && c <= 107) style.bg = color256(c - 100 + 8);
    else if (c === 39) style.fg = null;
    else if (c === 49) style.bg = null;
    else if (c === 38 || c === 48) {
      let value = null;
      if (codes[i + 1] === 5 && i + 2 < codes.length) {
        value = color256(codes[i + 2] & 255);
        i += 2;
      } else if (codes[i + 1] === 2 && i + 4 < codes.length) {
        value = `rgb(${codes[i + 2] & 255},${codes[i + 3] & 255},${codes[i + 4] & 255})`;
        i += 4;
      }
      if (c === 38) style.fg = value;
      else style.bg = value;
    }
  }
}

function span(text, style) {
  const plain = !style.fg && !style.bg && !style.bold && !style.dim && !style.italic && !style.underline && !style.inverse;
  if (plain) return document.createTextNode(text);
  const el = document.createElement("span");
  el.textContent = text;
  const fg = style.inverse ? style.bg || "var(--screen-bg)" : style.fg;
  const bg = style.inverse ? style.fg || "var(--screen-fg)" : style.bg;
  if (fg) el.style.color = fg;
  if (bg) el.style.backgroundColor = bg;
  if (style.bold) el.style.fontWeight = "bold";
  if (style.dim) el.style.opacity = "0.7";
  if (style.italic) el.style.fontStyle = "italic";
  if (style.underline) el.style.textDecoration = "underline";
  return el;
}

/** The nodes that show `text` (a screen with SGR escapes), in order. */
export function screenNodes(text) {
  const nodes = [];
  const style = {};
  let at = 0;
  const flush = (chunk) => {
    const clean = chunk.replace(OTHER, "").replace(/[\x00-\x08\x0b-\x1f\x7f]/g, "");
    if (clean) nodes.push(span(clean, style));
  };
  for (const m of text.matchAll(SGR)) {
    flush(text.slice(at, m.index));
    const codes = m[1] === "" ? [0] : m[1].split(/[;:]/).map((s) => Number.parseInt(s || "0", 10) || 0);
    apply(style, codes);
    at = m.index + m[0].length;
  }
  flush(text.slice(at));
  return nodes;
}
