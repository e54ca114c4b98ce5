"""gc.viz.to_dot: DOT text of the recorded backward graph, and rendering through `dot`.

The DOT text is parsed here and checked against the graph walked independently through
``Node.next_functions``. Rendering is tested with a fake ``dot`` script first on PATH, so
the suite needs no Graphviz; where the real ``dot`` is installed, its parser checks the text.
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import gradcore as gc

NODE_RE = re.compile(r'^\s*(\w+) \[label="((?:[^"\\]|\\.)*)"(.*)\];$')
EDGE_RE = re.compile(r"^\s*(\w+) -> (\w+)\b(.*);$")
GRAPH_NODE = re.compile(r"n\d+$")  # op and leaf nodes (not saved/out/notes)
HAS_DOT = shutil.which("dot") is not None


def unescape(s: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), s)


def parse(dot: str) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """(node id -> label, [(tail, head, attributes)]) of the text to_dot writes."""
    lines = dot.splitlines()
    assert lines[0] == "digraph gradcore {" and lines[-1] == "}"
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str, str]] = []
    for line in lines[1:-1]:
        if m := EDGE_RE.match(line):
            edges.append((m.group(1), m.group(2), m.group(3)))
        elif m := NODE_RE.match(line):
            assert m.group(1) not in nodes, f"node {m.group(1)} declared twice"
            nodes[m.group(1)] = unescape(m.group(2))
        else:
            assert re.match(r"^\s*(graph|node|edge) \[", line), line
    for a, b, _ in edges:
        assert a in nodes and b in nodes, (a, b)
    return nodes, edges


def graph_edges(edges: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
    return [(a, b) for a, b, _ in edges if GRAPH_NODE.match(a) and GRAPH_NODE.match(b)]


def walk(*outputs: gc.Tensor) -> tuple[list[gc._core.Node], int]:
    """Unique nodes and the number of (node <- input) edges, straight from next_functions."""
    nodes: list[gc._core.Node] = []
    stack = [t.grad_fn for t in outputs if t.grad_fn is not None]
    n_edges = 0
    while stack:
        node = stack.pop()
        if any(node is seen for seen in nodes):
            continue
        nodes.append(node)
        for child, _ in node.next_functions:
            if child is not None:
                n_edges += 1
                stack.append(child)
    return nodes, n_edges


def labels_with(nodes: dict[str, str], first_line: str) -> list[str]:
    return [label for label in nodes.values() if label.split("\n")[0] == first_line]


def receipt() -> tuple[gc.Tensor, dict[str, gc.Tensor]]:
    x = gc.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    w = gc.tensor([[0.5, -1.0, 2.0]], requires_grad=True)
    b = gc.tensor(0.25, requires_grad=True)
    return (x * w).sum() + b, {"x": x, "w": w, "b": b}


def test_structure_matches_the_recorded_graph() -> None:
    y, params = receipt()
    nodes, edges = parse(gc.viz.to_dot(y, params=params))
    assert labels_with(nodes, "MulBackward0") == ["MulBackward0\n(1, 3) float32"]
    assert labels_with(nodes, "SumBackward0") == ["SumBackward0\n() float32"]
    assert labels_with(nodes, "AddBackward0") == ["AddBackward0\n() float32"]
    assert labels_with(nodes, "x") == ["x\n(1, 3) float32"]
    assert labels_with(nodes, "w") == ["w\n(1, 3) float32"]
    assert labels_with(nodes, "b") == ["b\n() float32"]
    assert nodes["out0"] == "output\n() float32"
    graph_nodes, n_edges = walk(y)
    assert sum(1 for k in nodes if GRAPH_NODE.match(k)) == len(graph_nodes) == 6
    assert len(graph_edges(edges)) == n_edges == 5
    # Edges run from inputs to the op that consumes them, and the last op feeds the output.
    by_label = {label.split("\n")[0]: k for k, label in nodes.items()}
    assert (by_label["x"], by_label["MulBackward0"]) in graph_edges(edges)
    assert (by_label["MulBackward0"], by_label["SumBackward0"]) in graph_edges(edges)
    assert (by_label["AddBackward0"], "out0") in [(a, b) for a, b, _ in edges]
    # Saved tensors: side nodes attached to MulBackward, named by params where known.
    saved = {k: v for k, v in nodes.items() if "_s" in k}
    assert sorted(saved.values()) == ["other = w\n(1, 3) float32", "self = x\n(1, 3) float32"]
    assert all((k, by_label["MulBackward0"]) in [(a, b) for a, b, _ in edges] for k in saved)
    assert "freed" not in nodes and "more" not in nodes


def test_after_backward_grads_shown_and_saved_values_freed() -> None:
    y, params = receipt()
    y.backward()
    nodes, edges = parse(gc.viz.to_dot(y, params=params))
    assert not [k for k in nodes if "_s" in k]
    assert "freed" in nodes and "retain_graph=True" in nodes["freed"]
    assert "(saved values freed)" in labels_with(nodes, "MulBackward0")[0]
    x, w = params["x"], params["w"]
    assert labels_with(nodes, "x") == [f"x\n(1, 3) float32\ngrad (1, 3) norm={math.sqrt(0.25 + 1 + 4):.4g}"]
    assert labels_with(nodes, "w") == [f"w\n(1, 3) float32\ngrad (1, 3) norm={math.sqrt(1 + 4 + 9):.4g}"]
    assert labels_with(nodes, "b") == ["b\n() float32\ngrad () norm=1"]
    assert np.allclose(x.grad.detach().numpy(), w.detach().numpy())
    assert len(graph_edges(edges)) == walk(y)[1]  # structure survives the backward
    # show_grads=False leaves the labels as before backward.
    nodes, _ = parse(gc.viz.to_dot(y, params=params, show_grads=False))
    assert labels_with(nodes, "x") == ["x\n(1, 3) float32"]


def test_retain_graph_keeps_saved_tensors_and_show_saved_hides_them() -> None:
    y, params = receipt()
    y.backward(retain_graph=True)
    nodes, _ = parse(gc.viz.to_dot(y, params=params))
    assert len([k for k in nodes if "_s" in k]) == 2 and "freed" not in nodes
    nodes, edges = parse(gc.viz.to_dot(y, params=params, show_saved=False))
    assert not [k for k in nodes if "_s" in k]
    assert len(graph_edges(edges)) == walk(y)[1]


def test_deterministic_for_identical_graphs() -> None:
    def build() -> str:
        x = gc.tensor([[1.0, -2.0], [3.0, 0.5]], requires_grad=True)
        w = gc.tensor([[0.1, 0.2], [0.3, 0.4]], requires_grad=True)
        h = (x @ w).tanh()
        return gc.viz.to_dot([(h * x).sum(), h.relu().mean()], params={"x": x, "w": w})

    first = build()
    assert first == build()
    nodes, _ = parse(first)
    assert nodes["out0"].startswith("output 0") and nodes["out1"].startswith("output 1")
    ids = [k for k in nodes if GRAPH_NODE.match(k)]
    assert ids == [f"n{i}" for i in range(len(ids))]  # breadth-first numbering


def test_diamond_shared_subgraph_appears_once() -> None:
    x = gc.tensor([0.5, 1.5], requires_grad=True)
    a = x * x  # consumed by two branches
    y = (a.exp() + a.tanh()).sum()
    nodes, edges = parse(gc.viz.to_dot(y, params={"x": x}))
    assert len(labels_with(nodes, "MulBackward0")) == 1
    assert len(labels_with(nodes, "x")) == 1
    graph_nodes, n_edges = walk(y)
    assert sum(1 for k in nodes if GRAPH_NODE.match(k)) == len(graph_nodes) == 6
    ge = graph_edges(edges)
    assert len(ge) == n_edges == 7
    mul = next(k for k, v in nodes.items() if v.startswith("MulBackward0"))
    leaf = next(k for k, v in nodes.items() if v.startswith("x\n"))
    assert ge.count((leaf, mul)) == 2  # x * x: two edges from the same leaf
    assert sorted(nodes[b].split("\n")[0] for a, b in ge if a == mul) == ["ExpBackward0", "TanhBackward0"]


def test_leaf_and_tensor_without_graph_are_one_node() -> None:
    x = gc.tensor([1.0, 2.0], requires_grad=True)
    nodes, edges = parse(gc.viz.to_dot(x, params={"x": x}))
    assert nodes == {"out0": "x\n(2,) float32\nleaf"} and edges == []
    c = gc.ones(3, 2, dtype=gc.float64)
    nodes, edges = parse(gc.viz.to_dot(c))
    assert list(nodes) == ["out0"] and edges == []
    assert nodes["out0"].startswith("output\n(3, 2) float64\nno graph recorded")
    # A leaf passed as an output and reached from another output is drawn once.
    y = (x * 2.0).sum()
    nodes, edges = parse(gc.viz.to_dot([y, x], params={"x": x}))
    assert len([v for v in nodes.values() if v.startswith("x\n")]) == 1
    mul = next(k for k, v in nodes.items() if v.startswith("MulBackward0"))
    assert ("out1", mul) in [(a, b) for a, b, _ in edges]


def test_deep_chain_iterative_and_capped() -> None:
    x = gc.tensor([1.0], requires_grad=True)
    y = x
    depth = 10_000
    for _ in range(depth):
        y = y * 1.0001
    start = time.perf_counter()
    capped = gc.viz.to_dot(y, max_nodes=50)
    full = gc.viz.to_dot(y, max_nodes=None)
    elapsed = time.perf_counter() - start
    assert elapsed < 3.0, elapsed
    nodes, edges = parse(capped)
    assert sum(1 for k in nodes if GRAPH_NODE.match(k)) == 50
    assert nodes["more"].startswith(f"... {depth + 1 - 50} more nodes")
    assert len(graph_edges(edges)) == 49
    assert ("more", "n49") in [(a, b) for a, b, _ in edges]
    nodes, edges = parse(full)
    assert sum(1 for k in nodes if GRAPH_NODE.match(k)) == depth + 1 and "more" not in nodes
    assert len(graph_edges(edges)) == depth


def test_custom_function_and_module_parameter_names() -> None:
    class Cube(gc.autograd.Function):
        @staticmethod
        def forward(ctx, a):  # type: ignore[no-untyped-def]
            ctx.save_for_backward(a)
            return a * a * a

        @staticmethod
        def backward(ctx, g):  # type: ignore[no-untyped-def]
            (a,) = ctx.saved_tensors
            return 3.0 * a * a * g

    model = gc.nn.Linear(3, 2)
    out = Cube.apply(model(gc.ones(4, 3))).sum()
    nodes, edges = parse(gc.viz.to_dot(out, params=model.named_parameters()))
    cube = labels_with(nodes, "CubeBackward")
    assert cube == ["CubeBackward\n(4, 2) float32"]
    assert labels_with(nodes, "weight") == ["weight\n(2, 3) float32"]
    assert labels_with(nodes, "bias") == ["bias\n(2,) float32"]
    assert any(v.startswith("saved_0\n(4, 2)") for k, v in nodes.items() if "_s" in k)
    assert len(graph_edges(edges)) == walk(out)[1]


def test_labels_are_escaped() -> None:
    w = gc.tensor([1.0, 2.0], requires_grad=True)
    name = 'w "quoted" \\ back\nslash {x} <y>; z'
    dot = gc.viz.to_dot((w * w).sum(), params={name: w})
    nodes, _ = parse(dot)
    assert labels_with(nodes, 'w "quoted" \\ back') == [name + "\n(2,) float32"]
    if HAS_DOT:
        proc = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert "<svg" in proc.stdout and "&quot;quoted&quot;" in proc.stdout


def test_bad_arguments() -> None:
    x = gc.tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError):
        gc.viz.to_dot([])
    with pytest.raises(ValueError, match="max_nodes"):
        gc.viz.to_dot(x, max_nodes=0)
    with pytest.raises(ValueError, match=r"\.svg"):
        gc.viz.to_dot(x, path="graph.jpeg")
    assert "viz" in gc.__all__


@pytest.mark.parametrize("suffix", [".dot", ".gv"])
def test_text_paths_are_written_as_is(tmp_path: Path, suffix: str) -> None:
    y, _ = receipt()
    target = tmp_path / f"g{suffix}"
    dot = gc.viz.to_dot(y, path=target)
    assert target.read_text() == dot
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


def fake_dot(bindir: Path, log: Path, exit_code: int = 0) -> None:
    bindir.mkdir()
    script = bindir / "dot"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        f"json.dump(sys.argv[1:], open({str(log)!r}, 'w'))\n"
        f"if {exit_code}:\n"
        "    open(sys.argv[sys.argv.index('-o') + 1], 'w').write('partial')\n"
        "    sys.stderr.write('syntax error in line 1')\n"
        f"    sys.exit({exit_code})\n"
        "open(sys.argv[sys.argv.index('-o') + 1], 'w').write('RENDERED ' + sys.argv[1])\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


@pytest.mark.parametrize("fmt", ["svg", "png", "pdf"])
def test_render_through_dot_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    log = tmp_path / "argv.json"
    fake_dot(tmp_path / "bin", log)
    monkeypatch.setenv("PATH", str(tmp_path / "bin") + os.pathsep + os.environ.get("PATH", ""))
    out = tmp_path / "pics"
    out.mkdir()
    y, params = receipt()
    target = out / f"graph.{fmt.upper()}"  # the suffix is case-insensitive
    dot = gc.viz.to_dot(y, path=str(target), params=params)
    argv = json.loads(log.read_text())
    assert argv[0] == f"-T{fmt}" and argv[1] == str(out / "graph.dot") and argv[2] == "-o"
    assert Path(argv[3]).parent == out and argv[3] != str(target)  # rendered to a temp file
    assert target.read_text().startswith("RENDERED ")
    assert (out / "graph.dot").read_text() == dot
    assert sorted(p.name for p in out.iterdir()) == sorted(["graph.dot", target.name])


def test_failed_render_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dot(tmp_path / "bin", tmp_path / "argv.json", exit_code=3)
    monkeypatch.setenv("PATH", str(tmp_path / "bin") + os.pathsep + os.environ.get("PATH", ""))
    y, _ = receipt()
    with pytest.raises(RuntimeError, match="syntax error"):
        gc.viz.to_dot(y, path=tmp_path / "g.svg")
    assert not (tmp_path / "g.svg").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["argv.json", "bin", "g.dot"]


def test_missing_dot_writes_text_and_explains(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "nobin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    y, _ = receipt()
    with pytest.raises(RuntimeError, match="apt-get install graphviz") as info:
        gc.viz.to_dot(y, path=tmp_path / "g.png")
    assert str(tmp_path / "g.dot") in str(info.value)
    assert (tmp_path / "g.dot").read_text() == gc.viz.to_dot(y)
    assert not (tmp_path / "g.png").exists()


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot is not installed")
def test_real_dot_renders_svg(tmp_path: Path) -> None:
    y, params = receipt()
    y.backward()
    dot = gc.viz.to_dot(y, path=tmp_path / "g.svg", params=params)
    svg = (tmp_path / "g.svg").read_text()
    assert "<svg" in svg and "MulBackward0" in svg and "retain_graph=True" in svg
    proc = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and not proc.stderr, proc.stderr
