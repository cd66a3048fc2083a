"""The explorer's page: the graph as inline SVG, the steps as JSON, and the CSS and script.

Everything is in the one file, and the page's Content-Security-Policy forbids
every fetch (no ``src``, ``href`` or ``connect`` anywhere), so it opens the same
from a disk, an e-mail or a notebook, offline. The script only moves between
steps: it sets the texts that Python wrote, and toggles highlights.
"""

import html
import json
from xml.sax.saxutils import escape

from chainrule.viz.layout import FILL, LINE_H, layout

FIT_NODES = 60  # graphs up to this many nodes are scaled to fit the window
POLICY = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'"

STYLE = """
body { font-family: Helvetica, Arial, sans-serif; margin: 0; color: #222; }
header { position: sticky; top: 0; background: #fafafa; border-bottom: 1px solid #ccc;
         padding: 6px 12px; display: flex; gap: 8px; align-items: center; z-index: 1; }
header h1 { font-size: 15px; margin: 0 12px 0 0; font-weight: 600; }
button { font-size: 14px; min-width: 2.4em; white-space: nowrap; }
@media (max-width: 1300px) { #hint { display: none; } }
#counter { font-family: monospace; font-size: 14px; margin-left: 8px; white-space: nowrap; }
#hint { color: #777; font-size: 12px; margin-left: auto; }
main { display: flex; align-items: flex-start; }
#graph { flex: 1 1 auto; overflow: auto; padding: 8px; }
#panel { flex: 0 0 340px; border-left: 1px solid #ccc; padding: 8px 12px; font-size: 13px;
         max-height: calc(100vh - 50px); overflow: auto; position: sticky; top: 42px; }
#panel table { border-collapse: collapse; }
#panel td, #panel th { border-bottom: 1px solid #eee; padding: 2px 6px; text-align: left;
                       vertical-align: top; }
#panel pre { max-height: 240px; overflow: auto; font-size: 11px; background: #f6f6f6; }
.num { font-family: monospace; }
summary { cursor: pointer; font-family: monospace; }
.node text { pointer-events: none; }
.node text.name { font-weight: 600; }
.node text.grad { fill: #b3261e; }
.node.current > :first-child { stroke: #d33; stroke-width: 3; }
.edge { fill: none; stroke: #333; }
.edge.active { stroke: #d33; stroke-width: 2.5; }
.phase-backward .edge.active { stroke-dasharray: 6 3; }
"""

SCRIPT = r"""
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("steps").textContent);
  const steps = data.steps, texts = data.texts, last = steps.length - 1;
  const counter = document.getElementById("counter"), panel = document.getElementById("panel");
  const play = document.getElementById("play");
  const slots = new Map();
  function slot(key, which) {
    const id = key + (which ? "-grad" : "-value");
    if (!slots.has(id)) slots.set(id, document.getElementById(id));
    return slots.get(id);
  }
  let at = 0, timer = null, lit = [];
  function apply(step, forward) {
    for (const c of step.changes) {
      const el = slot(c[0], c[1]);
      if (el) el.textContent = texts[forward ? c[2] : c[3]];
    }
  }
  function show() {
    const step = steps[at];
    for (const el of lit) el.classList.remove("current", "active");
    lit = [];
    if (step.node) {
      const node = document.getElementById("node-" + step.node);
      if (node) { node.classList.add("current"); lit.push(node); }
      for (const e of document.querySelectorAll('[data-to="' + step.node + '"]')) {
        e.classList.add("active"); lit.push(e);
      }
    }
    document.body.className = "phase-" + step.phase;
    counter.textContent = step.label;
    panel.innerHTML = step.panel;
    document.getElementById("back").disabled = at === 0;
    document.getElementById("next").disabled = at === last;
  }
  function go(n) {
    n = Math.max(0, Math.min(last, n));
    while (at < n) { at += 1; apply(steps[at], true); }
    while (at > n) { apply(steps[at], false); at -= 1; }
    show();
  }
  function pause() { if (timer) { clearInterval(timer); timer = null; } play.textContent = "play"; }
  function toggle() {
    if (timer) { pause(); return; }
    if (at === last) go(0);
    play.textContent = "pause";
    timer = setInterval(function () { go(at + 1); if (at >= last) pause(); }, 700);
  }
  document.getElementById("reset").onclick = function () { pause(); go(0); };
  document.getElementById("back").onclick = function () { pause(); go(at - 1); };
  document.getElementById("next").onclick = function () { pause(); go(at + 1); };
  play.onclick = toggle;
  document.addEventListener("keydown", function (e) {
    if (e.key === "ArrowRight") { pause(); go(at + 1); }
    else if (e.key === "ArrowLeft") { pause(); go(at - 1); }
    else if (e.key === " ") { toggle(); }
    else if (e.key === "Home") { pause(); go(0); }
    else if (e.key === "End") { pause(); go(last); }
    else return;
    e.preventDefault();
  });
  panel.addEventListener("toggle", function (e) {
    const box = e.target;
    if (box.open && box.dataset.array !== undefined) {
      const pre = box.querySelector("pre");
      if (!pre.textContent) pre.textContent = data.arrays[Number(box.dataset.array)];
    }
  }, true);
  window.chainruleExplorer = { go: go, get step() { return at; }, steps: steps.length,
                              readyMs: performance.now() };
  show();
  document.body.dataset.ready = "1";
})();
"""


def render(title, nodes, edges, initial, data):
    """The whole page as text. ``nodes``: key -> Node (lines sized for the widest text);
    ``initial``: (key, slot) -> text shown at the start; ``data``: the steps (explorer)."""
    steps = json.dumps(data, separators=(",", ":"), ensure_ascii=False).replace("</", "<\\/")
    title = html.escape(title)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{POLICY}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><style>{STYLE}</style></head>
<body class="phase-start">
<header><h1>{title}</h1>
<button id="reset" title="back to the start (Home)">reset</button>
<button id="back" title="step back (←)">◀ back</button>
<button id="play" title="play / pause (space)">play</button>
<button id="next" title="step forward (→)">next ▶</button>
<span id="counter">start</span>
<span id="hint">← → step · space play · click a summary for the full array</span></header>
<main><div id="graph">{svg(nodes, edges, initial)}</div><aside id="panel"></aside></main>
<script type="application/json" id="steps">{steps}</script>
<script>{SCRIPT}</script>
</body></html>
"""


def svg(nodes, edges, initial):
    """The graph in the static drawing's layout; every text a page step sets has an id.

    A small graph shrinks to fit the window beside the panel; a big one keeps its size
    and scrolls, so that its labels stay readable.
    """
    place, size, curves, (width, height) = layout(nodes, edges)
    fit = ' style="max-width:100%;height:auto"' if len(nodes) <= FIT_NODES else ""
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
           f'viewBox="0 0 {width:.1f} {height:.1f}" font-size="12"{fit}>',
           '<defs><marker id="arrow" markerWidth="10" markerHeight="8" refX="10" refY="4" '
           'orient="auto" markerUnits="userSpaceOnUse">'
           '<path d="M0,0 L10,4 L0,8 z" fill="#333"/></marker></defs>']
    for (a, b), (x0, y0, cx, cy, x1, y1) in zip(edges, curves):
        out.append(f'<path class="edge" data-from="{a}" data-to="{b}" '
                   f'd="M{x0:.1f},{y0:.1f} Q{cx:.1f},{cy:.1f} {x1:.1f},{y1:.1f}" '
                   'marker-end="url(#arrow)"/>')
    for key, node in nodes.items():
        (x, y), (w, h) = place[key], size[key]
        out.append(f'<g class="node {node.kind}" id="node-{key}">')
        style = f'fill="{FILL[node.kind]}" stroke="#333"'
        if node.kind == "variable":
            out.append(f'<ellipse cx="{x:.1f}" cy="{y:.1f}" rx="{w / 2:.1f}" ry="{h / 2:.1f}" '
                       f'{style}/>')
            name = node.lines[0]
            lines = [("name", "", name)] if name else []
            lines += [("value", f' id="{key}-value"', initial.get((key, 0), "")),
                      ("grad", f' id="{key}-grad"', initial.get((key, 1), ""))]
        else:
            rounded = ' rx="8"' if node.kind == "module" else ""
            out.append(f'<rect x="{x - w / 2:.1f}" y="{y - h / 2:.1f}" width="{w:.1f}" '
                       f'height="{h:.1f}"{rounded} {style}/>')
            lines = [("label", "", line) for line in node.lines]
        top = y - (len(lines) - 1) * LINE_H / 2
        for i, (kind, ident, line) in enumerate(lines):
            out.append(f'<text class="{kind}"{ident} x="{x:.1f}" y="{top + i * LINE_H:.1f}" '
                       f'text-anchor="middle" dominant-baseline="central">{escape(line)}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)
