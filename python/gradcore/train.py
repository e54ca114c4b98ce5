"""A small training loop: ``fit(model, loss_fn, optimizer, loader, epochs, val_loader=None)``.

Users can always write the loop by hand (see examples/); this helper is that loop plus a
progress bar (tqdm when installed and on a terminal; one plain line per epoch otherwise),
per-epoch loss and accuracy, and ``plot_history`` (matplotlib, when installed).
"""
from __future__ import annotations

import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from gradcore import _core
from gradcore._core import Tensor
from gradcore.autograd import no_grad

__all__ = ["fit", "evaluate", "plot_history"]


def _accuracy_count(out: Tensor, target: Any) -> Optional[int]:
    """Correct predictions for class logits (N, C) and integer labels; None otherwise."""
    if out.ndim != 2:
        return None
    if isinstance(target, Tensor):
        if target.dtype.is_floating_point or target.dtype is _core.bool or tuple(target.shape) != (out.shape[0],):
            return None
        return int((out.detach().argmax(1) == target).sum())
    t = np.asarray(target)
    if t.dtype.kind not in "iu" or t.shape != (out.shape[0],):
        return None
    return int((out.detach().numpy().argmax(axis=1) == t).sum())


def evaluate(model: Any, loss_fn: Callable[..., Tensor], loader: Any) -> Dict[str, float]:
    """Mean loss and accuracy (when the task is classification) over ``loader``, in eval mode."""
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    total, count, correct, have_acc = 0.0, 0, 0, True
    with no_grad():
        for xb, yb in loader:
            out = model(xb)
            n = out.shape[0] if out.ndim else 1
            total += loss_fn(out, yb).item() * n
            count += n
            c = _accuracy_count(out, yb)
            have_acc = have_acc and c is not None
            correct += c or 0
    if hasattr(model, "train"):
        model.train(was_training)
    res = {"loss": total / max(count, 1)}
    if have_acc:
        res["accuracy"] = correct / max(count, 1)
    return res


def fit(model: Any, loss_fn: Callable[..., Tensor], optimizer: Any, loader: Any, epochs: int = 1,
        val_loader: Any = None, progress: Optional[bool] = None, log: Callable[[str], None] = print,
        scheduler: Any = None, callbacks: Optional[Sequence[Any]] = None) -> Dict[str, List[float]]:
    """Train ``model`` for ``epochs`` passes over ``loader``; return the history.

    History keys: ``loss`` and ``accuracy`` (training, per epoch; accuracy only for
    classification: 2-D logits and integer labels), ``val_loss`` / ``val_accuracy`` with
    ``val_loader``, and ``epoch_time`` (seconds). ``progress`` defaults to "stdout is a
    terminal and tqdm is installed".

    ``callbacks``: objects with any of these methods, called in list order:
    ``on_after_backward(model, loss)`` after each ``loss.backward()`` and before
    ``optimizer.step()`` (the gradients are in ``.grad``; e.g.
    :class:`gradcore.nn.utils.GradientMonitor`), and ``on_epoch_end(epoch, history)``
    after each epoch's history entries are written.
    """
    after_backward = [cb.on_after_backward for cb in callbacks or () if hasattr(cb, "on_after_backward")]
    epoch_end = [cb.on_epoch_end for cb in callbacks or () if hasattr(cb, "on_epoch_end")]
    if progress is None:
        progress = sys.stdout.isatty()
    tqdm: Optional[Callable[..., Any]] = None
    if progress:
        try:
            from tqdm import tqdm  # type: ignore[no-redef]  # rebinds the None fallback above
        except ImportError:
            tqdm = None
    history: Dict[str, List[float]] = {"loss": [], "accuracy": [], "epoch_time": []}
    for epoch in range(1, epochs + 1):
        if hasattr(model, "train"):
            model.train()
        t0 = time.perf_counter()
        total, count, correct, have_acc = 0.0, 0, 0, True
        batches = tqdm(loader, desc=f"epoch {epoch}/{epochs}", leave=False) if tqdm else loader
        for xb, yb in batches:
            optimizer.zero_grad()
            out = model(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            for cb in after_backward:
                cb(model, loss)
            optimizer.step()
            n = out.shape[0] if out.ndim else 1
            total += loss.item() * n
            count += n
            c = _accuracy_count(out, yb)
            have_acc = have_acc and c is not None
            correct += c or 0
        if scheduler is not None:
            scheduler.step()
        dt = time.perf_counter() - t0
        history["loss"].append(total / max(count, 1))
        history["epoch_time"].append(dt)
        line = f"epoch {epoch}/{epochs}  loss {history['loss'][-1]:.4f}"
        if have_acc:
            history["accuracy"].append(correct / max(count, 1))
            line += f"  acc {history['accuracy'][-1]:.4f}"
        if val_loader is not None:
            v = evaluate(model, loss_fn, val_loader)
            history.setdefault("val_loss", []).append(v["loss"])
            line += f"  val_loss {v['loss']:.4f}"
            if "accuracy" in v:
                history.setdefault("val_accuracy", []).append(v["accuracy"])
                line += f"  val_acc {v['accuracy']:.4f}"
        log(line + f"  ({dt:.2f} s)")
        for cb in epoch_end:
            cb(epoch, history)
    if not history["accuracy"]:
        del history["accuracy"]
    return history


def plot_history(history: Dict[str, List[float]], path: str) -> bool:
    """Plot loss (and accuracy) per epoch to ``path`` with matplotlib; False if it is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    loss_keys = [k for k in ("loss", "val_loss") if history.get(k)]
    acc_keys = [k for k in ("accuracy", "val_accuracy") if history.get(k)]
    panels = [("loss", loss_keys)] + ([("accuracy", acc_keys)] if acc_keys else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    for ax, (title, keys) in zip(axes[0], panels):
        for k in keys:
            ax.plot(range(1, len(history[k]) + 1), history[k], marker="o", label=k)
        ax.set_xlabel("epoch")
        ax.set_title(title)
        if keys:
            ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True
