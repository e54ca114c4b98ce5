"""The committed stub ``python/gradcore/_core.pyi`` must describe the live extension.

These tests fail when the stub drifts from ``gradcore._core``: a function, class, method,
property or attribute added to or removed from the bindings, or a parameter renamed,
reordered, made optional/required or keyword-only. They need no pybind11-stubgen: the stub
is parsed with ``ast`` and compared with ``dir()`` of the live module and classes, and with
the signatures pybind11 writes into each ``__doc__`` (first line, or every numbered line of
an overloaded function; ``__text_signature__`` when a builtin has one).

Regenerating the stub (dev note)
--------------------------------
After changing ``csrc/bindings/*.cpp``, rebuild (importing gradcore does it in an editable
install) and run::

    pip install -e .[dev]                       # mypy, pybind11-stubgen
    python tools/gen_stub.py                    # rewrites python/gradcore/_core.pyi

The script runs pybind11-stubgen and applies the fixes its docstring lists (builtins
shadowed by gradcore's dtype aliases, gradcore's ``dtype`` mistaken for NumPy's, keyword
parameter names, the exception classes). Then check both ways::

    mypy --strict python/gradcore               # the stub is used by the whole package
    python -m pytest -q tests/test_stubs.py
"""
from __future__ import annotations

import ast
import functools
import inspect
import keyword
import re
from pathlib import Path
from typing import Callable, Dict, List, Optional, Set, Tuple

import pytest

import gradcore
from gradcore import _core

PACKAGE_DIR = Path(gradcore.__file__).parent
STUB_PATH = PACKAGE_DIR / "_core.pyi"

# Class attributes every pybind11 class has, or that are not part of its API.
_CLASS_BOILERPLATE = {"__doc__", "__module__", "__dict__", "__weakref__"}

Signature = Tuple[str, ...]  # parameter names; "x=" has a default, "*" starts keyword-only


def _dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


# ---- the stub ---------------------------------------------------------------------------
def _stub_module() -> ast.Module:
    return ast.parse(STUB_PATH.read_text(encoding="utf-8"), filename=str(STUB_PATH))


def _assigned_name(node: ast.stmt) -> Optional[str]:
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id
    return None


def _decorators(fn: ast.FunctionDef) -> Set[str]:
    return {ast.unparse(d) for d in fn.decorator_list}


def _is_property(fn: ast.FunctionDef) -> bool:
    return any(d == "property" or d.endswith((".setter", ".deleter")) for d in _decorators(fn))


def _stub_signature(fn: ast.FunctionDef) -> Signature:
    a = fn.args
    out: List[str] = []
    positional = a.posonlyargs + a.args
    first_default = len(positional) - len(a.defaults)
    for i, arg in enumerate(positional):
        out.append(arg.arg + ("=" if i >= first_default else ""))
    if a.vararg is not None:
        out.append("*" + a.vararg.arg)
    elif a.kwonlyargs:
        out.append("*")
    for arg, default in zip(a.kwonlyargs, a.kw_defaults):
        out.append(arg.arg + ("=" if default is not None else ""))
    if a.kwarg is not None:
        out.append("**" + a.kwarg.arg)
    return tuple(out)


class _StubScope:
    """The names one scope (the module or a class body) of the stub defines."""

    def __init__(self, body: List[ast.stmt]) -> None:
        self.functions: Dict[str, List[ast.FunctionDef]] = {}  # every overload / accessor
        self.classes: Dict[str, ast.ClassDef] = {}
        self.attributes: Set[str] = set()
        self._instance_attributes: Set[str] = set()
        for node in body:
            if isinstance(node, ast.FunctionDef):
                self.functions.setdefault(node.name, []).append(node)
            elif isinstance(node, ast.ClassDef):
                self.classes[node.name] = node
            else:
                name = _assigned_name(node)
                if name is not None:
                    self.attributes.add(name)
                    if isinstance(node, ast.AnnAssign) and "ClassVar" not in ast.unparse(node.annotation):
                        self._instance_attributes.add(name)

    def names(self) -> Set[str]:
        return set(self.functions) | set(self.classes) | self.attributes

    def properties(self) -> Set[str]:
        return {n for n, fns in self.functions.items() if any(_is_property(f) for f in fns)}

    def instance_attributes(self) -> Set[str]:
        """``name: T`` declarations without ClassVar (a read-write property, to a type checker)."""
        return self._instance_attributes

    def signatures(self, name: str) -> Set[Signature]:
        return {_stub_signature(f) for f in self.functions.get(name, []) if not _is_property(f)}


@functools.lru_cache(maxsize=None)
def _stub() -> _StubScope:
    """The stub's top-level scope (parsed once; lazily, so a missing stub fails one test)."""
    return _StubScope(_stub_module().body)


def _stub_module_names() -> Set[str]:
    """Module-level names the stub claims: functions and classes (private ones too), and
    public attributes. Private assignments are the stub's own type aliases, and
    ``__all__`` is checked separately."""
    private_aliases = {n for n in _stub().attributes if n.startswith("_")}
    return _stub().names() - private_aliases


def _stub_class(name: str) -> _StubScope:
    return _StubScope(_stub().classes[name].body)


# ---- the live module --------------------------------------------------------------------
def _live_module_names() -> Set[str]:
    return {n for n in dir(_core) if not _dunder(n)}


LIVE_CLASSES = sorted(n for n in _live_module_names() if isinstance(getattr(_core, n), type))
LIVE_FUNCTIONS = sorted(n for n in _live_module_names() if callable(getattr(_core, n)) and n not in LIVE_CLASSES)


def _slot_wrappers(cls: type) -> Set[str]:
    """Dunders the class defines as C slot wrappers: pybind11's "No constructor defined"
    ``__init__``, and Tensor's CPython number slots (``__add__`` ...). The stub may declare
    them (a type checker needs ``__add__``) but need not."""
    return {n for n, v in vars(cls).items() if _dunder(n) and type(v).__name__ == "wrapper_descriptor"}


def _live_class_names(cls: type) -> Tuple[Set[str], Set[str]]:
    """(public names from dir(), dunder methods/attributes the class itself defines)."""
    inherited = set(dir(BaseException)) if issubclass(cls, BaseException) else set()  # args, with_traceback
    public = {n for n in dir(cls) if not n.startswith("_") and n not in inherited}
    dunders = {
        n for n, v in vars(cls).items()
        if _dunder(n) and n not in _CLASS_BOILERPLATE
        # C slot wrappers pybind11 installs (e.g. a class with no py::init gets an
        # __init__ that raises "No constructor defined"): not an API the stub describes.
        and type(v).__name__ != "wrapper_descriptor"
    }
    return public, dunders


def _split_top_level(text: str) -> List[str]:
    parts: List[str] = []
    cur: List[str] = []
    depth, quote = 0, ""
    for ch in text:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([{<":
            depth += 1
        elif ch in ")]}>":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def _parse_doc_signature(line: str, name: str) -> Optional[Signature]:
    """Parameter names of ``name(a: T, b: U = d, *, c: V = e) -> R`` (pybind11's format)."""
    if not line.startswith(name + "("):
        return None
    depth, quote, end = 0, "", -1
    for i in range(len(name), len(line)):
        ch = line[i]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{<":
            depth += 1
        elif ch in ")]}>":
            depth -= 1
            if depth == 0:
                end = i
                break
    assert end > 0, f"unbalanced signature in the docstring of {name}: {line!r}"
    out: List[str] = []
    for piece in _split_top_level(line[len(name) + 1:end]):
        if piece == "/":
            continue  # positional-only marker: pybind11 adds it, stubgen drops it
        if piece == "*":
            out.append("*")
            continue
        m = re.match(r"(\*{0,2}[A-Za-z_]\w*)", piece)
        assert m, f"cannot parse parameter {piece!r} of {name}"
        # A default is an "=" outside the annotation's brackets.
        has_default = "=" in _strip_brackets(piece)
        out.append(m.group(1) + ("=" if has_default and not m.group(1).startswith("*") else ""))
    return tuple(out)


def _strip_brackets(text: str) -> str:
    out, depth = [], 0
    for ch in text:
        if ch in "([{<":
            depth += 1
        elif ch in ")]}>":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def _text_signature(obj: Callable[..., object]) -> Optional[Signature]:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    out: List[str] = []
    star = False
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            out.append("*" + p.name)
            star = True
        elif p.kind is p.VAR_KEYWORD:
            out.append("**" + p.name)
        else:
            if p.kind is p.KEYWORD_ONLY and not star:
                out.append("*")
                star = True
            out.append(p.name + ("=" if p.default is not p.empty else ""))
    return tuple(out)


def _live_signatures(obj: object, name: str) -> Optional[Set[Signature]]:
    """Every signature pybind11 exposes for ``obj``; None when it exposes none."""
    if getattr(obj, "__text_signature__", None) and callable(obj):
        sig = _text_signature(obj)
        return None if sig is None else {_escape_keywords(sig)}
    lines = (getattr(obj, "__doc__", None) or "").splitlines()
    if not lines:
        return None
    if len(lines) > 1 and lines[1].strip() == "Overloaded function.":
        found = [m.group(1) for line in lines if (m := re.match(rf"^\d+\. ({re.escape(name)}\(.*)$", line))]
    else:
        found = [lines[0]]
    sigs = {_escape_keywords(sig) for sig in (_parse_doc_signature(s, name) for s in found) if sig is not None}
    return sigs or None


def _escape_keywords(sig: Signature) -> Signature:
    """A parameter named after a Python keyword (PyTorch's ``uniform_(from=0, to=1)``) is
    spelt with a trailing underscore in a stub, which must be valid Python."""
    return tuple(re.sub(r"^(\w+)", lambda m: m.group(1) + "_" if keyword.iskeyword(m.group(1)) else m.group(1), p)
                 for p in sig)


def _signatures_agree(stub: Set[Signature], live: Set[Signature]) -> bool:
    """Equal sets; or, for a function pybind11 binds once, stub overloads that each take the
    same parameters, making optional only what is optional (``size(self, dim: None = None)
    -> tuple`` / ``size(self, dim: int) -> int`` for one ``size(self, dim=None)``)."""
    if stub == live:
        return True
    if len(live) != 1 or len(stub) < 2:
        return False
    (one,) = live
    for sig in stub:
        if len(sig) != len(one):
            return False
        for s, l in zip(sig, one):
            if s.rstrip("=") != l.rstrip("=") or (s.endswith("=") and not l.endswith("=")):
                return False
    return True


def _diff(what: str, stub: Set[str], live: Set[str]) -> str:
    return (f"{what}: in the module but not in _core.pyi: {sorted(live - stub)}; "
            f"in _core.pyi but not in the module: {sorted(stub - live)} "
            f"(regenerate the stub: see the docstring of tests/test_stubs.py)")


# ---- tests ------------------------------------------------------------------------------
def test_stub_and_marker_ship_with_the_package() -> None:
    assert STUB_PATH.is_file(), f"{STUB_PATH} is missing"
    assert (PACKAGE_DIR / "py.typed").is_file(), "py.typed is missing: type checkers would ignore the stub"


def test_module_level_names_match() -> None:
    stub, live = _stub_module_names(), _live_module_names()
    assert stub == live, _diff("module-level names", stub, live)


def test_dunder_all_lists_the_public_names() -> None:
    tree = _stub_module()
    node = next((n for n in tree.body if _assigned_name(n) == "__all__"), None)
    if node is None:
        pytest.skip("the stub has no __all__")
    assert isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None
    names = set(ast.literal_eval(node.value))
    public = {n for n in _live_module_names() if not n.startswith("_")}
    assert names == public, _diff("__all__", names, public)


def test_module_attributes_are_attributes() -> None:
    # float32 / float64 are dtype values in both; nothing callable is declared as a variable.
    for name in _stub().attributes:
        if name.startswith("_"):
            continue
        assert not callable(getattr(_core, name)), f"_core.{name} is callable but the stub declares a variable"


@pytest.mark.parametrize("cls_name", LIVE_CLASSES)
def test_class_members_match(cls_name: str) -> None:
    assert cls_name in _stub().classes, f"class {cls_name} is not in _core.pyi"
    cls = getattr(_core, cls_name)
    scope = _stub_class(cls_name)
    public, dunders = _live_class_names(cls)
    stub_public = {n for n in scope.names() if not n.startswith("_")}
    stub_dunders = {n for n in scope.names() if _dunder(n)} - _slot_wrappers(cls)
    assert stub_public == public, _diff(f"public members of {cls_name}", stub_public, public)
    assert stub_dunders == dunders, _diff(f"dunder members of {cls_name}", stub_dunders, dunders)


@pytest.mark.parametrize("cls_name", LIVE_CLASSES)
def test_properties_are_properties(cls_name: str) -> None:
    cls = getattr(_core, cls_name)
    scope = _stub_class(cls_name)
    live = {n for n, v in vars(cls).items() if type(v) is property}
    stub = scope.properties()
    # A read-write property may be declared as a plain annotated attribute (`requires_grad: bool`).
    declared = stub | (scope.instance_attributes() & live)
    assert declared == live, _diff(f"properties of {cls_name}", declared, live)
    for name in scope.instance_attributes() - live:
        assert not callable(getattr(cls, name)), f"{cls_name}.{name} is callable but the stub declares an attribute"
    # ... and what the module calls as a method is a method in the stub.
    for name, fns in scope.functions.items():
        if not any(_is_property(f) for f in fns):
            assert callable(inspect.getattr_static(cls, name, None)), f"{cls_name}.{name} is a method in the stub only"


def test_every_module_function_exposes_a_signature() -> None:
    # The parameter check below must not pass vacuously.
    missing = [n for n in LIVE_FUNCTIONS if _live_signatures(getattr(_core, n), n) is None]
    assert not missing, f"no parseable signature in the docstrings of {missing}"


@pytest.mark.parametrize("name", LIVE_FUNCTIONS)
def test_function_parameters_match(name: str) -> None:
    live = _live_signatures(getattr(_core, name), name)
    assert live is not None
    stub = _stub().signatures(name)
    assert stub, f"{name} is not a function in _core.pyi"
    assert _signatures_agree(stub, live), (f"parameters of {name}: module {sorted(live)} vs stub {sorted(stub)} "
                          f"(regenerate the stub: see the docstring of tests/test_stubs.py)")


def _class_methods() -> List[Tuple[str, str]]:
    out = []
    for cls_name in LIVE_CLASSES:
        cls = getattr(_core, cls_name)
        for name, v in vars(cls).items():
            if type(v).__name__ == "instancemethod" and not name.startswith("_pybind11"):
                out.append((cls_name, name))
    return sorted(out)


@pytest.mark.parametrize(("cls_name", "name"), _class_methods())
def test_method_parameters_match(cls_name: str, name: str) -> None:
    live = _live_signatures(getattr(getattr(_core, cls_name), name), name)
    if live is None:
        pytest.skip(f"{cls_name}.{name} exposes no signature")
    stub = _stub_class(cls_name).signatures(name)
    assert stub, f"{cls_name}.{name} is not a method in _core.pyi"
    assert _signatures_agree(stub, live), (f"parameters of {cls_name}.{name}: module {sorted(live)} vs stub {sorted(stub)} "
                          f"(regenerate the stub: see the docstring of tests/test_stubs.py)")
