"""Server-side SVG drawing of an explanation subgraph: the union of a recommendation's
explanation paths (user → rated or liked movies → people / genres / other users → movie).

Layout is layered: a node's column is the length of the longest path reaching it in the
union of the paths (walked from the user or the stated like towards the recommended
movie), and the recommended movie takes the last column. Nodes of a column are stacked
in order of first appearance. Edges are drawn in their stored direction (``head →
tail``, e.g. *Heat → directed by → Michael Mann*) with the relation as label. Every text
is XML-escaped, and the drawing uses presentation attributes only (no ``style``), so it
can be inserted into a page whose Content-Security-Policy forbids inline styles.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

#: Fill colour per entity type (others: :data:`OTHER_FILL`).
FILLS = {"user": "#dbe8f6", "movie": "#fdf0d5", "person": "#e2f2df", "genre": "#efe3f6",
         "decade": "#f3f3f3"}
OTHER_FILL = "#eeeeee"
BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 168, 34, 64, 18, 12
MAX_CHARS = 24


def _columns(paths: Sequence[Sequence[str]], target: str) -> dict[str, int]:
    """Column per node: longest distance from a path start in the union of the paths,
    with ``target`` moved to the last column (cycles are cut after ``n`` rounds)."""
    edges = {(a, b) for nodes in paths for a, b in zip(nodes, nodes[1:])}
    order = list(dict.fromkeys(n for nodes in paths for n in nodes))
    col = {n: 0 for n in order}
    for _ in range(len(order)):
        changed = False
        for a, b in edges:
            if b != a and col[b] < col[a] + 1 <= len(order):
                col[b] = col[a] + 1
                changed = True
        if not changed:
            break
    last = max((c for n, c in col.items() if n != target), default=-1) + 1
    col[target] = max(last, col.get(target, 0))
    # close gaps left by the move (columns that hold no node)
    used = sorted(set(col.values()))
    rank = {c: i for i, c in enumerate(used)}
    return {n: rank[c] for n, c in col.items()}


def _short(text: str) -> str:
    return text if len(text) <= MAX_CHARS else text[:MAX_CHARS - 1] + "…"


def _relation(name: str) -> str:
    return name.replace("_", " ")


def _ports(edges: list[tuple[str, str, str]], pos: dict[str, tuple[float, float]]
           ) -> dict[tuple[str, str, str], float]:
    """Height at which each edge meets each of its two boxes: the edges on one side of a
    box are spread over its height, in the order of the boxes they come from, so that
    edges fanning into one node do not meet in one point."""
    sides: dict[tuple[str, bool], list[tuple[float, str, str]]] = {}
    for head, _, tail in edges:
        for node, other in ((head, tail), (tail, head)):
            if pos[node][0] != pos[other][0]:
                right = pos[other][0] > pos[node][0]
                sides.setdefault((node, right), []).append((pos[other][1], head, tail))
    out: dict[tuple[str, str, str], float] = {}
    for (node, _), attached in sides.items():
        attached.sort()
        for rank, (_, head, tail) in enumerate(attached):
            out[(head, tail, node)] = pos[node][1] + BOX_H * (rank + 1) / (len(attached) + 1)
    return out


def explanation_svg(explanations: Sequence[dict], target: str,
                    label: Callable[[str], str]) -> str:
    """SVG of the union of explanation paths.

    Args:
        explanations: dicts with ``"steps"``: lists of ``{"head", "relation", "tail",
            "forward"}`` (as in :class:`kgrec.web.schemas.ExplanationOut`).
        target: entity id of the recommended movie (``"movie:50"``).
        label: entity id → readable name.

    Returns:
        An ``<svg>`` element as a string; a one-line note when there is no path.
    """
    paths: list[list[str]] = []
    edges: dict[tuple[str, str, str], None] = {}
    for e in explanations:
        steps = e["steps"]
        if not steps:
            continue
        first = steps[0]
        nodes = [first["head"] if first["forward"] else first["tail"]]
        for s in steps:
            nodes.append(s["tail"] if s["forward"] else s["head"])
            edges[(s["head"], s["relation"], s["tail"])] = None
        paths.append(nodes)
    if not paths:
        width = 2 * MARGIN + BOX_W * 2
        return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="40" '
                f'role="img" aria-label="no explanation path"><text x="{MARGIN}" y="24" '
                'font-family="sans-serif" font-size="13" fill="#555">No explanation path '
                'found for this movie.</text></svg>')
    col = _columns(paths, target)
    rows: dict[int, list[str]] = {}
    for node in col:
        rows.setdefault(col[node], []).append(node)
    n_cols = max(rows) + 1
    tallest = max(len(v) for v in rows.values())
    height = 2 * MARGIN + tallest * BOX_H + (tallest - 1) * GAP_Y + 16
    width = 2 * MARGIN + n_cols * BOX_W + (n_cols - 1) * GAP_X
    pos: dict[str, tuple[float, float]] = {}
    for c, nodes in rows.items():
        span = len(nodes) * BOX_H + (len(nodes) - 1) * GAP_Y
        top = (height - span) / 2
        for i, node in enumerate(nodes):
            pos[node] = (MARGIN + c * (BOX_W + GAP_X), top + i * (BOX_H + GAP_Y))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height:.0f}" '
           f'viewBox="0 0 {width} {height:.0f}" role="img" '
           f'aria-label="explanation graph of {escape(label(target))}" '
           'font-family="sans-serif" class="kg-graph">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
           'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
           'fill="#777"/></marker></defs>']
    port = _ports(list(edges), pos)
    for head, relation, tail in edges:
        (x1, y1), (x2, y2) = pos[head], pos[tail]
        if x1 == x2:  # same column: connect bottom and top edges
            ax = bx = x1 + BOX_W / 2
            ay, by = (y1 + BOX_H, y2) if y1 < y2 else (y1, y2 + BOX_H)
        else:  # leave each box on the side facing the other one
            ax, bx = (x1 + BOX_W, x2) if x1 < x2 else (x1, x2 + BOX_W)
            ay, by = port[(head, tail, head)], port[(head, tail, tail)]
        mx, my = (ax + bx) / 2, (ay + by) / 2
        out.append(f'<line x1="{ax:.1f}" y1="{ay:.1f}" x2="{bx:.1f}" y2="{by:.1f}" '
                   'stroke="#777" stroke-width="1.4" marker-end="url(#arrow)"/>')
        out.append(f'<text x="{mx:.1f}" y="{my - 4:.1f}" font-size="11" text-anchor="middle" '
                   'fill="#333" stroke="#fff" stroke-width="3" paint-order="stroke">'
                   f'{escape(_relation(relation))}</text>')
    for node, (x, y) in pos.items():
        kind = node.partition(":")[0]
        name = label(node)
        strong = node == target
        weight = ' font-weight="bold"' if strong else ""
        out.append(f'<g class="node node-{escape(kind)}"><title>{escape(name)} '
                   f'({escape(node)})</title>'
                   f'<rect x="{x:.1f}" y="{y:.1f}" width="{BOX_W}" height="{BOX_H}" rx="7" '
                   f'fill="{FILLS.get(kind, OTHER_FILL)}" '
                   f'stroke="{"#c0392b" if strong else "#999"}" '
                   f'stroke-width="{2.5 if strong else 1}"/>'
                   f'<text x="{x + BOX_W / 2:.1f}" y="{y + BOX_H / 2 + 4:.1f}" font-size="12" '
                   f'text-anchor="middle" fill="#111"{weight}>'
                   f'{escape(_short(name))}</text></g>')
    out.append("</svg>")
    return "".join(out)
