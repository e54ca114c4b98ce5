"""Gradient clipping (one C++ pass for the norm, one for the scale) and gradient diagnostics.

Diagnostics: :func:`grad_stats` (per-parameter norms) and :class:`GradientMonitor`
(per-layer gradient norms and activation statistics over training, warning with a
:class:`GradientWarning` that names the layers whose gradients vanish or explode).
"""
from __future__ import annotations

import math
import warnings
from collections import OrderedDict
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Tuple, Union

import numpy as np

from gradcore import _core
from gradcore._core import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector", "vector_to_parameters", "grad_stats", "ParamGradStats", "GradientMonitor",
           "GradientWarning", "ActivationStats"]
# issue 15: BatchNorm folded into the layer before it (nn/_fusion.py)
from gradcore.nn._fusion import (  # noqa: E402
    fuse_conv_bn_eval, fuse_conv_bn_weights, fuse_linear_bn_eval, fuse_linear_bn_weights,
)
__all__ += ["fuse_conv_bn_eval", "fuse_conv_bn_weights", "fuse_linear_bn_eval", "fuse_linear_bn_weights"]


def _params(parameters: Union[Tensor, Iterable[Tensor]]) -> List[Tensor]:
    if isinstance(parameters, Tensor):
        return [parameters]
    return list(parameters)


def clip_grad_norm_(
    parameters: Union[Tensor, Iterable[Tensor]],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    """Scale all gradients together so their total ``norm_type``-norm is at most ``max_norm``.

    The norm is computed over all gradients as if concatenated; when it exceeds
    ``max_norm`` every gradient is multiplied by ``max_norm / (norm + 1e-6)``.
    Returns the total norm before clipping (a 0-dim float64 tensor).
    """
    params = _params(parameters)
    norm_type = float(norm_type)
    total = _core.grad_norm(params, norm_type)
    value = total.item()
    if error_if_nonfinite and not math.isfinite(value):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients is non-finite, so it cannot be clipped")
    coef = float(max_norm) / (value + 1e-6)
    if coef < 1.0:
        _core.scale_grads(params, coef)
    return total


def clip_grad_value_(parameters: Union[Tensor, Iterable[Tensor]], clip_value: float) -> None:
    """Clamp every gradient element into [-clip_value, clip_value]."""
    _core.clamp_grads(_params(parameters), float(clip_value))


# ---- gradient diagnostics ----------------------------------------------------------------


class GradientWarning(UserWarning):
    """Issued by :class:`GradientMonitor` when layers' gradients vanish or explode.

    Besides the message, it carries ``kind`` (``"vanishing"`` or ``"exploding"``),
    ``layers`` (the layer names, in model order) and ``step`` (1-based).
    """

    def __init__(self, message: str, kind: str = "", layers: Tuple[str, ...] = (), step: int = 0) -> None:
        super().__init__(message)
        self.kind, self.layers, self.step = kind, layers, step


class ParamGradStats(NamedTuple):
    """One parameter's entry in :func:`grad_stats` (gradient fields are None without ``.grad``)."""

    grad_norm: Optional[float]      # L2 norm of p.grad
    grad_mean_abs: Optional[float]  # mean |p.grad|
    param_norm: float               # L2 norm of p
    ratio: Optional[float]          # grad_norm / param_norm (inf if only the parameter is zero)


def _ratio(num: float, den: float) -> float:
    if den > 0:
        return num / den
    return math.inf if num > 0 else (0.0 if num == 0 else math.nan)


def grad_stats(model: Any) -> "OrderedDict[str, ParamGradStats]":
    """Per-parameter gradient statistics of ``model`` (a Module), keyed by parameter name.

    For each parameter (``"0.weight"``, ``"0.bias"``, ... in ``named_parameters()`` order):
    ``grad_norm`` (L2 norm of ``p.grad``), ``grad_mean_abs`` (mean of ``|p.grad|``),
    ``param_norm`` (L2 norm of ``p``) and ``ratio = grad_norm / param_norm`` (how large a
    plain SGD step is relative to the weights, per unit learning rate). The gradient fields
    are None for parameters without ``.grad``. Each norm is one C++ pass in float64.
    """
    named = list(model.named_parameters())
    params = [p for _, p in named]
    grads = [p.grad for p in params]
    # Three C++ calls for the whole model: parameter L2 norms, gradient L2 and L1 norms.
    pnorms = _core.tensor_norms(params, 2.0).tolist()
    gnorms = _core.tensor_norms(grads, 2.0).tolist()
    gsums = _core.tensor_norms(grads, 1.0).tolist()
    out: "OrderedDict[str, ParamGradStats]" = OrderedDict()
    for (name, p), g, pn, gn, g1 in zip(named, grads, pnorms, gnorms, gsums):
        if g is None:
            out[name] = ParamGradStats(None, None, pn, None)
            continue
        mean_abs = g1 / p.numel() if p.numel() else 0.0
        out[name] = ParamGradStats(gn, mean_abs, pn, _ratio(gn, pn))
    return out


class ActivationStats(NamedTuple):
    """Statistics of one layer's output in the last recorded forward pass."""

    mean: float
    std: float
    frac_zero: float                 # fraction of exact zeros (dead ReLU units)
    frac_saturated: Optional[float]  # Sigmoid/Tanh: fraction within ``saturation_eps`` of a bound; else None


# Output ranges of the activations whose saturation is measured: (low, high).
_BOUNDED = {"Sigmoid": (0.0, 1.0), "Tanh": (-1.0, 1.0)}


class GradientMonitor:
    """Per-layer gradient norms and activation statistics for a training loop, with warnings.

    >>> monitor = GradientMonitor(model)
    >>> for xb, yb in loader:
    ...     opt.zero_grad(); loss_fn(model(xb), yb).backward()
    ...     monitor.step()          # records the norms; warns on vanishing/exploding layers
    ...     opt.step()
    >>> monitor.remove()            # or: with GradientMonitor(model) as monitor: ...

    It is also a callback for :func:`gradcore.train.fit` (``fit(..., callbacks=[monitor])``
    calls :meth:`step` after each backward).

    **Layers.** A *layer* is a module that owns parameters directly (a ``Linear``), named by
    its dotted path in ``model.named_modules()`` (``"3"`` in a ``Sequential``). Its gradient
    norm is the L2 norm of all its parameters' gradients together (one C++ pass).

    **Thresholds** (checked at every :meth:`step`, over the layers that have gradients):

    - *vanishing*: ``norm < vanish_threshold * max_norm`` where ``max_norm`` is the largest
      layer norm of the same step, or ``norm < vanish_abs``. Default ``vanish_threshold``
      = 1e-3: with one learning rate for all layers, such a layer's relative update is three
      orders of magnitude smaller than the best-served layer's, so for practical purposes it
      does not train; healthy nets (He init with ReLU, Xavier with tanh, normalised nets)
      keep layer norms within one to two orders of magnitude of each other, so 1e-3 leaves
      a wide margin against false alarms. Default ``vanish_abs`` = 1e-12 flags gradients
      that are zero for all practical purposes (dead layers) even when every layer is that
      small, as in a one-layer model.
    - *exploding*: ``norm > explode_threshold`` or ``norm`` not finite (NaN/Inf). Default
      ``explode_threshold`` = 1e3: for the usual batch-averaged losses, healthy layer norms
      are around 1e-3 to 10 and common ``clip_grad_norm_`` limits are 1 to 5; a norm of 1e3
      moves the weights by ``lr * 1e3`` in one step, larger than the weights themselves at
      any usual learning rate. Losses summed over a large batch scale norms by the batch
      size: raise the threshold accordingly.

    **Warnings.** With ``warn=True`` a :class:`GradientWarning` (a ``UserWarning``) names
    the layers, their norms and the threshold: one warning per kind and step, listing the
    layers that *entered* that state at this step. A layer stays silent while it stays
    vanishing (or exploding) and warns again only after it has recovered, so a training
    loop with a persistent problem warns once, not every step. ``issues`` lists every
    detection, warned or not: ``(step, layer, kind, norm)``.

    **Activations.** Forward hooks on the leaf modules (``Linear``, ``ReLU``, ``Sigmoid``,
    ...) keep a reference to each output of a forward pass run with grad enabled (evaluation
    under ``gc.no_grad()`` is not recorded); :meth:`step` turns the latest into
    :class:`ActivationStats` (mean, std, fraction of exact zeros, and for ``Sigmoid`` and
    ``Tanh`` the fraction of outputs within ``saturation_eps`` (default 0.01) of the output
    bounds, where the derivative is below ~0.01) in ``activation_history``. While the
    monitor is attached a ``Sequential`` runs Linear and activation unfused.

    Attributes: ``history`` (layer -> grad norm per step; NaN where the layer had no
    gradient), ``activation_history`` (leaf layer -> ActivationStats per step),
    ``layers`` (layer -> module type name), ``steps``, ``issues``.
    """

    def __init__(self, model: Any, vanish_threshold: float = 1e-3, explode_threshold: float = 1e3,
                 warn: bool = True, vanish_abs: float = 1e-12, record_activations: bool = True,
                 saturation_eps: float = 0.01) -> None:
        if not 0 <= vanish_threshold < 1:
            raise ValueError(f"vanish_threshold must be in [0, 1), got {vanish_threshold}")
        if not explode_threshold > 0:
            raise ValueError(f"explode_threshold must be positive, got {explode_threshold}")
        self.model = model
        self.vanish_threshold, self.explode_threshold, self.vanish_abs = vanish_threshold, explode_threshold, vanish_abs
        self.warn, self.saturation_eps = warn, saturation_eps
        self._layer_params: "OrderedDict[str, List[Tensor]]" = OrderedDict()
        self.layers: "OrderedDict[str, str]" = OrderedDict()
        self._leaves: "OrderedDict[str, str]" = OrderedDict()
        self._handles: List[Any] = []
        self._outputs: Dict[str, Tensor] = {}
        for name, m in model.named_modules():
            own = [p for _, p in m.named_parameters(recurse=False) if p.requires_grad]
            label = name or type(m).__name__
            if own:
                self._layer_params[label] = own
                self.layers[label] = type(m).__name__
            if record_activations and next(m.children(), None) is None:
                self._leaves[label] = type(m).__name__
                self._handles.append(m.register_forward_hook(self._forward_hook(label)))
        self.history: "OrderedDict[str, List[float]]" = OrderedDict((k, []) for k in self.layers)
        self.activation_history: "OrderedDict[str, List[ActivationStats]]" = OrderedDict(
            (k, []) for k in self._leaves)
        self.steps = 0
        self.issues: List[Tuple[int, str, str, float]] = []
        self._state: Dict[str, str] = {}  # layer -> kind it is currently flagged for

    def _forward_hook(self, label: str) -> Callable[[Any, Any, Any], None]:
        def hook(module: Any, args: Any, output: Any) -> None:
            if isinstance(output, Tensor) and _core.is_grad_enabled():
                self._outputs[label] = output.detach()  # a view: no copy, no graph
        return hook

    def _activation_stats(self, label: str, y: Tensor) -> ActivationStats:
        a = y.detach().numpy()  # zero-copy view
        if a.size == 0:
            return ActivationStats(math.nan, math.nan, math.nan, None)
        sat: Optional[float] = None
        bounds = _BOUNDED.get(self._leaves[label])
        if bounds is not None:
            lo, hi = bounds
            eps = self.saturation_eps
            sat = float(np.count_nonzero((a < lo + eps) | (a > hi - eps))) / a.size
        return ActivationStats(float(a.mean(dtype=np.float64)), float(a.std(dtype=np.float64)),
                               float(np.count_nonzero(a == 0)) / a.size, sat)

    def grad_norms(self) -> "OrderedDict[str, Optional[float]]":
        """Each layer's current gradient norm (None when none of its parameters has ``.grad``)."""
        # One C++ call for every parameter's gradient norm; a layer's norm combines its own.
        grads = [p.grad for params in self._layer_params.values() for p in params]
        norms = iter(_core.tensor_norms(grads, 2.0).tolist())
        out: "OrderedDict[str, Optional[float]]" = OrderedDict()
        for label, params in self._layer_params.items():
            own = [n for p, n in zip(params, norms) if p.grad is not None]
            out[label] = math.sqrt(sum(n * n for n in own)) if own else None
        return out

    def step(self) -> "OrderedDict[str, Optional[float]]":
        """Record this step's layer gradient norms (and latest activation stats); check and warn.

        Call it after ``backward()`` (before ``optimizer.zero_grad()``). Returns the norms.
        """
        self.steps += 1
        norms = self.grad_norms()
        for label, n in norms.items():
            self.history[label].append(math.nan if n is None else n)
        for label, y in self._outputs.items():
            self.activation_history[label].append(self._activation_stats(label, y))
        self._outputs.clear()
        self._check(norms)
        return norms

    def _check(self, norms: "OrderedDict[str, Optional[float]]") -> None:
        present = [(k, v) for k, v in norms.items() if v is not None]
        finite = [(k, v) for k, v in present if math.isfinite(v)]
        top_name, top = max(finite, key=lambda kv: kv[1]) if finite else ("", 0.0)
        new: Dict[str, List[Tuple[str, float]]] = {"vanishing": [], "exploding": []}
        for label, v in present:
            kind = None
            if not math.isfinite(v) or v > self.explode_threshold:
                kind = "exploding"
            elif v < self.vanish_abs or v < self.vanish_threshold * top:
                kind = "vanishing"
            if kind is None:
                self._state.pop(label, None)
                continue
            self.issues.append((self.steps, label, kind, v))
            if self._state.get(label) != kind:
                self._state[label] = kind
                new[kind].append((label, v))
        if not self.warn:
            return
        if new["vanishing"]:
            rule = (f"< {self.vanish_threshold:g} x the largest layer norm {top:.3g} ('{top_name}')"
                    f" or < {self.vanish_abs:g}")
            self._warn("vanishing", new["vanishing"], rule)
        if new["exploding"]:
            self._warn("exploding", new["exploding"], f"> {self.explode_threshold:g} or non-finite")

    def _warn(self, kind: str, layers: List[Tuple[str, float]], rule: str) -> None:
        listed = ", ".join(f"'{k}' ({self.layers[k]}) {v:.3g}" for k, v in layers)
        noun = "layer" if len(layers) == 1 else f"{len(layers)} of {len(self.layers)} layers"
        msg = f"{kind} gradients at step {self.steps} in {noun}: {listed} (gradient L2 norm {rule})"
        warnings.warn(GradientWarning(msg, kind, tuple(k for k, _ in layers), self.steps), stacklevel=4)

    def summary(self) -> str:
        """A table of the last step: layer, type, grad norm, and the layer's activation stats."""
        lines = [f"{'layer':<12}{'type':<10}{'grad norm':>12}{'act mean':>10}{'act std':>10}{'zero':>7}{'sat':>7}"]
        for label, typ in self._leaves.items() if self._leaves else self.layers.items():
            g = self.history.get(label)
            gtxt = f"{g[-1]:12.3e}" if g else f"{'':12}"
            acts = self.activation_history.get(label)
            if acts:
                a = acts[-1]
                sat = f"{a.frac_saturated:7.2f}" if a.frac_saturated is not None else f"{'':7}"
                atxt = f"{a.mean:10.3f}{a.std:10.3f}{a.frac_zero:7.2f}{sat}"
            else:
                atxt = ""
            lines.append(f"{label:<12}{typ:<10}{gtxt}{atxt}")
        return "\n".join(lines)

    # ---- fit() callback and cleanup -----------------------------------------------------
    def on_after_backward(self, model: Any, loss: Any) -> None:
        """:func:`gradcore.train.fit` callback: calls :meth:`step`."""
        self.step()

    def remove(self) -> None:
        """Remove the forward hooks (the recorded history stays)."""
        for h in self._handles:
            h.remove()
        self._handles.clear()
        self._outputs.clear()

    def __enter__(self) -> "GradientMonitor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """The parameters flattened and concatenated into one new 1-D tensor (PyTorch's
    ``torch.nn.utils.parameters_to_vector``)."""
    return _core.cat([p.reshape(-1) for p in parameters], 0)


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into the parameters' data, in order
    (PyTorch's ``torch.nn.utils.vector_to_parameters``: through ``.data``, not recorded)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    pointer = 0
    for p in parameters:
        n = p.numel()
        p.data = vec[pointer:pointer + n].view_as(p).data
        pointer += n
