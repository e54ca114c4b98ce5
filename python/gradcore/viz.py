"""Pictures of the recorded backward graph, as Graphviz DOT text.

>>> import gradcore as gc
>>> x = gc.tensor([1.0, 2.0], requires_grad=True)
>>> w = gc.tensor([3.0, 4.0], requires_grad=True)
>>> dot = gc.viz.to_dot((x * w).sum(), params={"x": x, "w": w})
>>> "MulBackward" in dot and '"w' in dot
True

The picture reads the graph through the public ``Node`` API only (``name()``,
``next_functions``, ``saved_tensors``, ``variable``, ``output_shape``, ``output_dtype``);
rendering to an image needs Graphviz's ``dot`` executable, and nothing else: there is no
Python dependency. Edges go from an op's inputs to the op that consumes them, so leaves
are at the top and the output at the bottom, as in the forward pass.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Union

import numpy as np

from gradcore._core import Node, Tensor

__all__ = ["to_dot"]

#: Formats rendered through ``dot -T<format>``; ``.dot``/``.gv`` paths just get the text.
RENDER_FORMATS = ("svg", "png", "pdf")
TEXT_SUFFIXES = (".dot", ".gv")

_Params = Union[Mapping[str, Tensor], Iterable[tuple[str, Tensor]]]

_STYLE = {
    "op": 'fillcolor="#e8e8e8"',
    "leaf": 'fillcolor="#add8e6"',
    "root": 'fillcolor="#a8d5a8"',
    "saved": 'fillcolor="#ffd699", fontsize=8',
    "note": 'shape=note, style=filled, fillcolor="#fff7c0"',
}


def _quote(text: str) -> str:
    """A DOT double-quoted string; newlines in ``text`` become centred line breaks."""
    s = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + s.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n") + '"'


def _dtype_name(t: Tensor) -> str:
    return str(t.dtype).rsplit(".", 1)[-1]


def _describe(t: Tensor) -> str:
    return f"{tuple(t.shape)} {_dtype_name(t)}"


def _grad_line(t: Tensor) -> str | None:
    g = t.grad
    if g is None:
        return None
    arr = np.asarray(g.detach().numpy(), dtype=np.float64)
    return f"grad {tuple(g.shape)} norm={float(np.sqrt(np.sum(arr * arr))):.4g}"


def _node_shape(node: Node) -> str | None:
    shape = node.output_shape
    if shape is None:
        return None
    return f"{tuple(int(d) for d in shape)} {node.output_dtype}"


def _named(params: _Params | None) -> tuple[dict[int, str], list[Tensor]]:
    """id(tensor) -> name; the list keeps the tensors alive so their ids stay unique."""
    if params is None:
        return {}, []
    items = params.items() if isinstance(params, Mapping) else params
    names: dict[int, str] = {}
    keep: list[Tensor] = []
    for name, t in items:
        names.setdefault(id(t), str(name))
        keep.append(t)
    return names, keep


def _traverse(roots: Sequence[Node]) -> list[Node]:
    """Every node reachable from ``roots`` once, in breadth-first order (iterative)."""
    seen: set[int] = set()
    order: list[Node] = []
    queue: deque[Node] = deque()
    for r in roots:
        if id(r) not in seen:
            seen.add(id(r))
            order.append(r)
            queue.append(r)
    while queue:
        for child, _ in queue.popleft().next_functions:
            # ``order`` holds every wrapper, so pybind11 hands back the same Python object
            # for the same C++ node and id() identifies nodes for the whole walk.
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                order.append(child)
                queue.append(child)
    return order


def to_dot(
    tensors: Tensor | Sequence[Tensor],
    path: str | os.PathLike[str] | None = None,
    *,
    show_saved: bool = True,
    show_grads: bool = True,
    params: _Params | None = None,
    max_nodes: int | None = 500,
) -> str:
    """Graphviz DOT text of the backward graph recorded for ``tensors``.

    One box per recorded op (its ``grad_fn`` name and output shape/dtype), one per leaf
    reached through an ``AccumulateGrad`` node (its name from ``params``, shape, dtype and,
    with ``show_grads``, the shape and L2 norm of ``.grad`` once it is set), the tensors
    each op saved for backward as small dashed side boxes (``show_saved``; they disappear
    once a backward without ``retain_graph=True`` frees them, and a note says so), and the
    output(s) at the bottom. Node ids follow breadth-first order from the outputs, so the
    same graph always gives the same text.

    ``params``: a dict name -> tensor, or ``module.named_parameters()``, to label leaves.
    ``max_nodes``: draw at most this many op/leaf nodes (``None``: all); the rest is
    summarised by one "... N more nodes" box. ``path``: also write the picture there:
    ``.dot``/``.gv`` get the text; ``.svg``/``.png``/``.pdf`` get the text next to them
    (same stem, ``.dot``) and are rendered with Graphviz's ``dot``, which raises
    ``RuntimeError`` when ``dot`` is not installed. Files are written whole (temporary
    file, then ``os.replace``). Returns the DOT text in every case.
    """
    roots = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if not roots or not all(isinstance(t, Tensor) for t in roots):
        raise TypeError("to_dot expects a Tensor or a non-empty sequence of Tensors")
    if max_nodes is not None and max_nodes < 1:
        raise ValueError(f"max_nodes must be >= 1 or None, got {max_nodes}")
    fmt = _output_format(path) if path is not None else None

    names, _keep = _named(params)
    lines = [
        "digraph gradcore {",
        '  graph [rankdir=TB, fontname="Helvetica", fontsize=10];',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=8];',
    ]
    edges: list[str] = []

    def leaf_label(t: Tensor | None, default: str) -> str:  # name, shape dtype, grad
        if t is None:
            return default
        rows = [names.get(id(t), default), _describe(t)]
        grad = _grad_line(t) if show_grads else None
        if grad is not None:
            rows.append(grad)
        return "\n".join(rows)

    # Outputs. A leaf output is the whole graph for that tensor; remember it so that an
    # AccumulateGrad of the same tensor reached from another output reuses its box.
    leaf_ids: dict[int, str] = {}
    grad_fns: list[Node] = []
    root_edges: list[tuple[Node, str]] = []
    for k, t in enumerate(roots):
        rid = f"out{k}"
        default = "output" if len(roots) == 1 else f"output {k}"
        fn = t.grad_fn
        if fn is None:
            if id(t) in leaf_ids:  # the same leaf passed twice
                continue
            leaf_ids[id(t)] = rid
            note = "leaf" if t.requires_grad else "no graph recorded (requires_grad=False)"
            label = leaf_label(t, default) + "\n" + note
            lines.append(f"  {rid} [label={_quote(label)}, {_STYLE['leaf']}, penwidth=2];")
        else:
            lines.append(f"  {rid} [label={_quote(leaf_label(t, default))}, {_STYLE['root']}];")
            grad_fns.append(fn)
            root_edges.append((fn, rid))

    order = _traverse(grad_fns)
    shown = order if max_nodes is None else order[:max_nodes]
    ids: dict[int, str] = {}
    freed = False
    for i, node in enumerate(shown):
        name = node.name()
        if name == "AccumulateGrad":
            var = node.variable
            if var is not None and id(var) in leaf_ids:
                ids[id(node)] = leaf_ids[id(var)]
                continue
            nid = ids[id(node)] = f"n{i}"
            if var is not None:
                leaf_ids[id(var)] = nid
                _keep.append(var)  # a live wrapper, so its id() is not reused
            lines.append(f'  {nid} [label={_quote(leaf_label(var, "leaf"))}, {_STYLE["leaf"]}, '
                         'tooltip="AccumulateGrad"];')
            continue
        nid = ids[id(node)] = f"n{i}"
        rows = [name]
        shape = _node_shape(node)
        if shape is not None:
            rows.append(shape)
        saved = node.saved_tensors
        if node.released:
            freed = True
            rows.append("(saved values freed)")
        lines.append(f"  {nid} [label={_quote(chr(10).join(rows))}, {_STYLE['op']}];")
        if show_saved:
            for j, (sname, st) in enumerate(saved.items()):
                sid = f"{nid}_s{j}"
                slabel = sname if id(st) not in names else f"{sname} = {names[id(st)]}"
                lines.append(f"  {sid} [label={_quote(slabel + chr(10) + _describe(st))}, {_STYLE['saved']}];")
                edges.append(f"  {sid} -> {nid} [style=dashed, arrowhead=none];")

    hidden_inputs: list[str] = []
    for node in shown:
        nid = ids[id(node)]
        cut = False
        for child, index in node.next_functions:
            if child is None:
                continue
            cid = ids.get(id(child))
            if cid is None:
                cut = True
            elif index != 0:
                edges.append(f'  {cid} -> {nid} [label="{index}"];')
            else:
                edges.append(f"  {cid} -> {nid};")
        if cut and nid not in hidden_inputs:
            hidden_inputs.append(nid)
    for fn, rid in root_edges:
        edges.append(f"  {ids[id(fn)]} -> {rid} [penwidth=2];")

    if len(order) > len(shown):
        more = len(order) - len(shown)
        text = f"... {more} more node{'s' if more != 1 else ''} (max_nodes={max_nodes})"
        lines.append(f"  more [label={_quote(text)}, {_STYLE['note']}];")
        edges.extend(f"  more -> {nid} [style=dotted];" for nid in hidden_inputs)
    if freed:
        text = ("saved tensors were freed by backward()\n"
                "(pass retain_graph=True to keep them)")
        lines.append(f"  freed [label={_quote(text)}, {_STYLE['note']}];")

    dot = "\n".join(lines + edges + ["}"]) + "\n"
    if path is not None and fmt is not None:
        _write(dot, os.fspath(path), fmt)
    return dot


def _output_format(path: str | os.PathLike[str]) -> str:
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix in TEXT_SUFFIXES:
        return "dot"
    if suffix[1:] in RENDER_FORMATS:
        return suffix[1:]
    raise ValueError(f"to_dot: cannot tell the format of {os.fspath(path)!r}: use a path ending in "
                     f"{', '.join(TEXT_SUFFIXES)} (DOT text) or "
                     f"{', '.join('.' + f for f in RENDER_FORMATS)} (rendered by Graphviz's dot)")


def _atomic_write(path: str, data: bytes) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _write(dot: str, path: str, fmt: str) -> None:
    if fmt == "dot":
        _atomic_write(path, dot.encode())
        return
    dot_path = os.path.splitext(path)[0] + ".dot"
    _atomic_write(dot_path, dot.encode())
    exe = shutil.which("dot")
    if exe is None:
        raise RuntimeError(f"to_dot: rendering {path!r} needs Graphviz's `dot` executable, which is not on "
                           f"PATH (install Graphviz, e.g. `apt-get install graphviz`). The DOT text was "
                           f"written to {dot_path!r}; the DOT text is also returned by to_dot.")
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    os.close(fd)
    try:
        proc = subprocess.run([exe, f"-T{fmt}", dot_path, "-o", tmp], capture_output=True, text=True,
                              timeout=120, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"to_dot: `dot -T{fmt}` failed with exit status {proc.returncode}: "
                               f"{proc.stderr.strip()} (DOT text in {dot_path!r})")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
