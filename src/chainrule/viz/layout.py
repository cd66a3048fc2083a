"""A small layered layout for graph drawings when graphviz is not installed.

Nodes go into columns, left to right, each after its inputs and just before
its first consumer; two sweeps order each column by
the average position of its neighbours, which removes most crossings in the
chains and trees that computational graphs are. The result is drawn as SVG
text by hand or as PNG through matplotlib (imported only for PNG).
"""

import collections
import io
from xml.sax.saxutils import escape

CHAR_W, LINE_H, PAD_X, PAD_Y = 7.0, 15.0, 14.0, 8.0  # pixels, for a 12 px sans-serif font
GAP_X, GAP_Y, MARGIN = 48.0, 16.0, 12.0
FILL = {"variable": "#fde8c8", "function": "#d5e8fb", "module": "#d8f0d2"}


def node_size(node):
    """Width and height of a node's shape: ellipses need room around their text."""
    w = max(len(line) for line in node.lines) * CHAR_W + 2 * PAD_X
    h = len(node.lines) * LINE_H + 2 * PAD_Y
    if node.kind == "variable":
        return w * 1.25, h * 1.25
    return w, h


def layers(nodes, edges):
    """Column of each node: after all of its inputs, and just before its first consumer."""
    preds = {k: [] for k in nodes}
    succs = {k: [] for k in nodes}
    for a, b in edges:
        preds[b].append(a)
        succs[a].append(b)
    waiting = {k: len(preds[k]) for k in nodes}
    ready = collections.deque(k for k in nodes if not preds[k])
    column, topological = {}, []
    while ready:  # Kahn's topological order: each node after all of its inputs
        k = ready.popleft()
        topological.append(k)
        column[k] = max((column[p] + 1 for p in preds[k]), default=0)
        for s in succs[k]:
            waiting[s] -= 1
            if waiting[s] == 0:
                ready.append(s)
    for k in nodes:
        column.setdefault(k, 0)  # only a cycle leaves a node unplaced; never in a real graph
    for k in reversed(topological):  # then as late as possible: side branches join late
        if succs[k]:
            column[k] = min(column[s] for s in succs[k]) - 1
    return column, preds, succs


def order(nodes, edges):
    """Columns as lists of keys, ordered to keep edges short and uncrossed."""
    column, preds, succs = layers(nodes, edges)
    first = min(column.values(), default=0)
    columns = collections.defaultdict(list)
    for k in nodes:
        columns[column[k] - first].append(k)
    columns = [columns[i] for i in range(max(columns, default=-1) + 1)]
    rank = {k: i for c in columns for i, k in enumerate(c)}
    for sweep, neighbours in ((columns, preds), (columns[::-1], succs)):
        for col in sweep:
            col.sort(key=lambda k: _barycentre(k, neighbours, rank))
            rank.update((k, i) for i, k in enumerate(col))
    return columns


def _barycentre(key, neighbours, rank):
    near = [rank[n] for n in neighbours[key]]
    return sum(near) / len(near) if near else rank[key]


def layout(nodes, edges):
    """Centre (x, y) and size (w, h) of every node, each edge's curve, and the canvas size.

    An edge is a quadratic curve ``(x0, y0, cx, cy, x1, y1)``: straight between
    neighbouring columns, bowed upwards when it jumps over a column, so that it
    does not run through the nodes in between.
    """
    columns = order(nodes, edges)
    size = {k: node_size(n) for k, n in nodes.items()}
    heights = [sum(size[k][1] for k in col) + GAP_Y * (len(col) - 1) for col in columns]
    canvas_h = max(heights, default=0) + 2 * MARGIN
    place, index, x = {}, {}, MARGIN
    for i, (col, height) in enumerate(zip(columns, heights)):
        width = max(size[k][0] for k in col)
        y = (canvas_h - height) / 2
        for k in col:
            place[k], index[k] = (x + width / 2, y + size[k][1] / 2), i
            y += size[k][1] + GAP_Y
        x += width + GAP_X
    curves = curve_edges(edges, place, size, index)
    # a bowed edge may rise above the top row: move everything down to make room
    top = min([0.0] + [0.25 * y0 + 0.5 * cy + 0.25 * y1 - MARGIN
                       for _, y0, _, cy, _, y1 in curves])
    place = {k: (px, py - top) for k, (px, py) in place.items()}
    curves = [(x0, y0 - top, cx, cy - top, x1, y1 - top) for x0, y0, cx, cy, x1, y1 in curves]
    return place, size, curves, (x - GAP_X + MARGIN, canvas_h - top)


def curve_edges(edges, place, size, index):
    """Each edge from the right side of its source to the left side of its target.

    Repeated edges (``x * x``) are spread apart so both arrows show.
    """
    count = collections.Counter(edges)
    seen = collections.Counter()
    out = []
    for a, b in edges:
        shift = (seen[(a, b)] - (count[(a, b)] - 1) / 2) * 8.0
        seen[(a, b)] += 1
        (xa, ya), (xb, yb) = place[a], place[b]
        x0, y0, x1, y1 = xa + size[a][0] / 2, ya + shift, xb - size[b][0] / 2, yb + shift
        bow = 0.3 if index[b] - index[a] > 1 else 0.0
        cx, cy = (x0 + x1) / 2 + bow * (y1 - y0), (y0 + y1) / 2 - bow * (x1 - x0)
        out.append((x0, y0, cx, cy, x1, y1))
    return out


def to_svg(nodes, edges):
    """The drawing as SVG text: ellipses, boxes, arrows and labels."""
    place, size, curves, (width, height) = layout(nodes, edges)
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" '
            f'height="{height:.0f}" viewBox="0 0 {width:.1f} {height:.1f}" '
            'font-family="Helvetica, Arial, sans-serif" font-size="12">')
    marker = ('<defs><marker id="arrow" markerWidth="10" markerHeight="8" refX="10" refY="4" '
              'orient="auto"><path d="M0,0 L10,4 L0,8 z" fill="#333"/></marker></defs>')
    out = [head, marker]
    for x0, y0, cx, cy, x1, y1 in curves:
        out.append(f'<path d="M{x0:.1f},{y0:.1f} Q{cx:.1f},{cy:.1f} {x1:.1f},{y1:.1f}" '
                   'fill="none" stroke="#333" marker-end="url(#arrow)"/>')
    for key, node in nodes.items():
        (x, y), (w, h) = place[key], size[key]
        style = f'fill="{FILL[node.kind]}" stroke="#333"'
        if node.kind == "variable":
            out.append(f'<ellipse cx="{x:.1f}" cy="{y:.1f}" rx="{w / 2:.1f}" ry="{h / 2:.1f}" '
                       f'{style}/>')
        else:
            rounded = ' rx="8"' if node.kind == "module" else ""
            out.append(f'<rect x="{x - w / 2:.1f}" y="{y - h / 2:.1f}" width="{w:.1f}" '
                       f'height="{h:.1f}"{rounded} {style}/>')
        top = y - (len(node.lines) - 1) * LINE_H / 2
        for i, line in enumerate(node.lines):
            out.append(f'<text x="{x:.1f}" y="{top + i * LINE_H:.1f}" text-anchor="middle" '
                       f'dominant-baseline="central">{escape(line)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def to_png(nodes, edges):
    """The drawing as PNG bytes, drawn with matplotlib's Agg canvas (no pyplot state)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.patches import Ellipse, FancyArrowPatch, FancyBboxPatch
        from matplotlib.path import Path
    except ImportError:
        raise ImportError("draw: a PNG without graphviz needs matplotlib: pip install "
                          '"chainrule[train]", or install graphviz (apt-get install '
                          "graphviz)") from None
    place, size, curves, (width, height) = layout(nodes, edges)
    dpi = 100
    figure = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    FigureCanvasAgg(figure)
    ax = figure.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)  # y grows downwards, as in SVG
    ax.axis("off")
    for x0, y0, cx, cy, x1, y1 in curves:
        curve = Path([(x0, y0), (cx, cy), (x1, y1)], [Path.MOVETO, Path.CURVE3, Path.CURVE3])
        ax.add_patch(FancyArrowPatch(path=curve, arrowstyle="-|>", mutation_scale=12,
                                     color="#333", shrinkA=0, shrinkB=0))
    for key, node in nodes.items():
        (x, y), (w, h) = place[key], size[key]
        style = {"facecolor": FILL[node.kind], "edgecolor": "#333"}
        if node.kind == "variable":
            ax.add_patch(Ellipse((x, y), w, h, **style))
        else:
            shape = "round,pad=0,rounding_size=8" if node.kind == "module" else "square,pad=0"
            ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle=shape, **style))
        ax.text(x, y, "\n".join(node.lines), ha="center", va="center", fontsize=8.5,
                linespacing=1.25, family="sans-serif")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
