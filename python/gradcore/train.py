"""A small training loop: ``fit(model, loss_fn, optimizer, loader, epochs, val_loader=None)``.

Users can always write the loop by hand (see examples/); this helper is that loop plus a
progress bar (tqdm, on a terminal or on request; one plain line per epoch either way),
per-epoch loss and accuracy, TensorBoard logging (``log_dir``), checkpoints to resume from
(``checkpoint_dir``, ``resume``) and ``plot_history`` (matplotlib, when installed).
"""
from __future__ import annotations

import os
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

import numpy as np

from gradcore import _core
from gradcore._core import Tensor
from gradcore.autograd import no_grad

__all__ = ["fit", "evaluate", "plot_history"]

PathLike = Union[str, "os.PathLike[str]"]


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


def _progress_bar(progress: Optional[bool]) -> Any:
    """tqdm's class when a bar is wanted: ``progress=True`` (ImportError naming the extra
    without tqdm), or ``None`` and stderr (where the bar is drawn) is a terminal and tqdm is
    installed; None for no bar."""
    if progress is None:
        isatty = getattr(sys.stderr, "isatty", None)
        if not (callable(isatty) and isatty()):
            return None
    elif not progress:
        return None
    try:
        from tqdm import tqdm
    except ImportError as e:
        if progress is None:
            return None
        raise ImportError("fit(progress=True) needs tqdm: pip install 'gradcore[progress]' (or pip install tqdm)") from e
    return tqdm


def _loader_generators(loader: Any) -> List[Any]:
    """The distinct gradcore Generators a loader shuffles with (its own, its sampler's, its
    batch sampler's sampler's): their states go into a checkpoint next to the default one."""
    found: List[Any] = []
    for owner in (loader, getattr(loader, "sampler", None),
                  getattr(getattr(loader, "batch_sampler", None), "sampler", None)):
        g = getattr(owner, "generator", None)
        if isinstance(g, _core.Generator) and all(g is not f for f in found):
            found.append(g)
    return found


_CHECKPOINT = "last.safetensors"


def _read_checkpoint(path: str, model: Any, optimizer: Any, scheduler: Any, loader: Any) -> Dict[str, Any]:
    """Load a fit() checkpoint into the live objects; ValueError naming the file when it is
    corrupt or does not match them (the objects may then be partly restored)."""
    from gradcore.io import load

    ck = load(path)  # ValueError naming the file for anything that is not a valid checkpoint
    need = {"epoch", "global_step", "model", "optimizer", "rng", "generators", "history"}
    if not isinstance(ck, dict) or not need <= set(ck):
        missing = sorted(need - set(ck)) if isinstance(ck, dict) else sorted(need)
        raise ValueError(f"fit: {path} is not a fit() checkpoint (missing {', '.join(missing)})")
    gens = _loader_generators(loader)
    if len(ck["generators"]) != len(gens):
        raise ValueError(f"fit: {path} holds {len(ck['generators'])} loader generator state(s), "
                         f"the loader has {len(gens)}")
    if (ck.get("scheduler") is None) != (scheduler is None):
        raise ValueError(f"fit: {path} was written {'with' if scheduler is None else 'without'} a scheduler, "
                         f"this call has {'none' if scheduler is None else 'one'}")
    try:
        model.load_state_dict(ck["model"])
        optimizer.load_state_dict(ck["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(ck["scheduler"])
        _core.set_rng_state(ck["rng"])
        for g, state in zip(gens, ck["generators"]):
            g.set_state(state)
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise ValueError(f"fit: {path} does not match the model/optimizer/scheduler: {e}") from e
    return ck


def fit(model: Any, loss_fn: Callable[..., Tensor], optimizer: Any, loader: Any, epochs: int = 1,
        val_loader: Any = None, progress: Optional[bool] = None, log: Callable[[str], None] = print,
        scheduler: Any = None, callbacks: Optional[Sequence[Any]] = None, log_dir: Optional[PathLike] = None,
        checkpoint_dir: Optional[PathLike] = None, resume: bool = False) -> Dict[str, List[float]]:
    """Train ``model`` for ``epochs`` passes over ``loader``; return the history.

    ``loader`` is any iterable of ``(input, target)`` batches (a DataLoader, a list); a bar
    needs its ``len()`` for totals and ETAs but works without. History keys: ``loss`` and
    ``accuracy`` (training, per epoch; accuracy only for classification: 2-D logits and
    integer labels), ``val_loss`` / ``val_accuracy`` with ``val_loader``, and ``epoch_time``
    (seconds). ``scheduler.step()`` runs once per epoch.

    ``progress``: a tqdm bar per epoch, drawn on stderr: batches/s, the epoch's ETA, and as
    postfix the running loss and accuracy and ``run_eta`` (the whole run's remaining time, at
    the mean step time so far; needs ``len(loader)``). ``None`` (default): when stderr is
    a terminal and tqdm is installed; ``True``: always (ImportError naming the
    ``gradcore[progress]`` extra without tqdm); ``False``: never. The per-epoch summary line
    goes to ``log`` either way (through the bar's ``write`` when ``log`` is ``print``).

    ``log_dir``: TensorBoard event files there (``gradcore[tensorboard]``): per step
    ``loss/train_step`` and ``grad_norm/<parameter name>`` (the 2-norm of each parameter's
    gradient before ``optimizer.step()``); per epoch ``epoch``, ``loss/train``,
    ``accuracy/train``, ``loss/val``, ``accuracy/val`` and ``lr/group<i>`` (each parameter
    group's learning rate used in that epoch). Every tag's x-axis is the global step (batches
    from 1; an epoch's values sit at its last step), so a resumed run passes the checkpoint's
    step + 1 as ``purge_step`` and TensorBoard hides whatever the interrupted run logged
    after its checkpoint.

    ``checkpoint_dir``: after each epoch, ``<checkpoint_dir>/last.safetensors`` is replaced
    atomically by a checkpoint (see :func:`gradcore.save`) of the epoch count, the model,
    optimizer and scheduler state dicts, the default generator's state, the states of the
    loader's gradcore Generators (``loader.generator``, ``loader.sampler.generator``), and the
    history. ``resume=True`` continues from it: training resumes after the saved epoch with
    every state restored, so the result is bitwise that of an uninterrupted run, and the
    returned history includes the earlier epochs; a missing checkpoint starts afresh; a
    corrupt or mismatched one is a ValueError naming the file. ``resume=True`` needs
    ``checkpoint_dir`` (ValueError).

    ``callbacks``: objects with any of these methods, called in list order:
    ``on_after_backward(model, loss)`` after each ``loss.backward()`` and before
    ``optimizer.step()`` (the gradients are in ``.grad``; e.g.
    :class:`gradcore.nn.utils.GradientMonitor`), and ``on_epoch_end(epoch, history)``
    after each epoch's history entries are written.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int):
        raise TypeError(f"fit: epochs must be an int, got {type(epochs).__name__}")
    if epochs < 0:
        raise ValueError(f"fit: epochs must be non-negative, got {epochs}")
    if resume and checkpoint_dir is None:
        raise ValueError("fit: resume=True needs checkpoint_dir (where the checkpoint is read from)")
    after_backward = [cb.on_after_backward for cb in callbacks or () if hasattr(cb, "on_after_backward")]
    epoch_end = [cb.on_epoch_end for cb in callbacks or () if hasattr(cb, "on_epoch_end")]
    tqdm = _progress_bar(progress)
    history: Dict[str, List[float]] = {"loss": [], "accuracy": [], "epoch_time": []}
    first, step = 1, 0
    ck_path = os.path.join(os.fspath(checkpoint_dir), _CHECKPOINT) if checkpoint_dir is not None else None
    if resume and ck_path is not None and os.path.exists(ck_path):
        ck = _read_checkpoint(ck_path, model, optimizer, scheduler, loader)
        first, step = int(ck["epoch"]) + 1, int(ck["global_step"])
        history = {k: list(v) for k, v in ck["history"].items()}
        history.setdefault("accuracy", [])
    writer = None
    if log_dir is not None:
        from gradcore.utils.tensorboard import SummaryWriter  # ImportError naming the extra

        writer = SummaryWriter(log_dir, purge_step=step + 1 if step else None)
    names = [n for n, _ in model.named_parameters()] if writer is not None and hasattr(model, "named_parameters") \
        else []
    params = [p for _, p in model.named_parameters()] if names else []
    try:
        n_batches = len(loader)
    except TypeError:
        n_batches = None
    emit = tqdm.write if tqdm is not None and log is print else log
    run_t0, run_steps = time.perf_counter(), 0  # this call's steps, for the run's ETA
    left = (epochs - first + 1) * n_batches if n_batches is not None else None
    try:
        for epoch in range(first, epochs + 1):
            if hasattr(model, "train"):
                model.train()
            lrs = [float(g["lr"]) for g in getattr(optimizer, "param_groups", [])]
            t0 = time.perf_counter()
            total, count, correct, have_acc = 0.0, 0, 0, True
            bar = tqdm(total=n_batches, desc=f"epoch {epoch}/{epochs}", unit="batch", leave=False) if tqdm else None
            try:
                for xb, yb in loader:
                    optimizer.zero_grad()
                    out = model(xb)
                    loss = loss_fn(out, yb)
                    loss.backward()
                    for cb in after_backward:
                        cb(model, loss)
                    step += 1
                    if writer is not None and params:
                        norms = _core.tensor_norms([p.grad for p in params]).numpy()
                        for name, v in zip(names, norms):
                            if v == v:  # NaN: the parameter got no gradient
                                writer.add_scalar(f"grad_norm/{name}", float(v), step)
                    optimizer.step()
                    n = out.shape[0] if out.ndim else 1
                    value = loss.item()
                    total += value * n
                    count += n
                    c = _accuracy_count(out, yb)
                    have_acc = have_acc and c is not None
                    correct += c or 0
                    if writer is not None:
                        writer.add_scalar("loss/train_step", value, step)
                    run_steps += 1
                    if bar is not None:
                        post = {"loss": f"{total / count:.4f}"}
                        if have_acc:
                            post["acc"] = f"{correct / count:.4f}"
                        if left is not None:  # the whole run's remaining time, at this call's mean step time
                            eta = (time.perf_counter() - run_t0) / run_steps * max(left - run_steps, 0)
                            post["run_eta"] = f"{int(eta) // 60}:{int(eta) % 60:02d}"
                        bar.set_postfix(post, refresh=False)
                        bar.update(1)
                if bar is not None:
                    bar.refresh()  # the epoch's final rate and postfix, however short the epoch was
            finally:
                if bar is not None:
                    bar.close()
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
            emit(line + f"  ({dt:.2f} s)")
            if writer is not None:
                _log_epoch(writer, history, lrs, epoch, step, have_acc)
            for cb in epoch_end:
                cb(epoch, history)
            if ck_path is not None:
                _write_checkpoint(ck_path, model, optimizer, scheduler, loader, epoch, step, history)
    finally:
        if writer is not None:
            writer.close()
    if not history["accuracy"]:
        del history["accuracy"]
    return history


def _log_epoch(writer: Any, history: Dict[str, List[float]], lrs: List[float], epoch: int, step: int,
               have_acc: bool) -> None:
    writer.add_scalar("epoch", epoch, step)
    writer.add_scalar("loss/train", history["loss"][-1], step)
    if have_acc:
        writer.add_scalar("accuracy/train", history["accuracy"][-1], step)
    for key, tag in (("val_loss", "loss/val"), ("val_accuracy", "accuracy/val")):
        if history.get(key):
            writer.add_scalar(tag, history[key][-1], step)
    for i, lr in enumerate(lrs):
        writer.add_scalar(f"lr/group{i}", lr, step)


def _write_checkpoint(path: str, model: Any, optimizer: Any, scheduler: Any, loader: Any, epoch: int, step: int,
                      history: Dict[str, List[float]]) -> None:
    """Everything resume needs, written atomically (gradcore.save: a temporary file renamed)."""
    from gradcore.io import save

    os.makedirs(os.path.dirname(path), exist_ok=True)
    save({"epoch": epoch, "global_step": step, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
          "scheduler": scheduler.state_dict() if scheduler is not None else None, "rng": _core.get_rng_state(),
          "generators": [g.get_state() for g in _loader_generators(loader)], "history": history}, path)


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
