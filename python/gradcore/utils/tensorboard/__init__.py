"""``gradcore.utils.tensorboard`` (PyTorch's ``torch.utils.tensorboard``): ``SummaryWriter``.

Event files are written by the ``tensorboard`` package's own ``EventFileWriter`` from its
own protos, so TensorBoard (and its ``EventAccumulator``) reads them as any others. The
package is an optional extra: ``pip install 'gradcore[tensorboard]'``; importing this
module without it is an ImportError naming the extra, as in PyTorch.

Values may be Python numbers, NumPy arrays or gradcore tensors. ``add_graph`` draws the
graph autograd records when the model runs on the input: one node per backward node, per
parameter (named by its module path, ``0/weight``) and per input and output.
"""
from __future__ import annotations

import os
import socket
import time
from datetime import datetime
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

try:
    from tensorboard.compat.proto import (
        attr_value_pb2, event_pb2, graph_pb2, node_def_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2,
        versions_pb2,
    )
    from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter
except ImportError as e:  # tests/test_tensorboard.py hides the package to check this message
    raise ImportError("gradcore.utils.tensorboard needs the tensorboard package: "
                      "pip install 'gradcore[tensorboard]' (or pip install tensorboard)") from e

from gradcore import _core
from gradcore._core import Tensor
from gradcore.autograd import enable_grad

__all__ = ["SummaryWriter"]


def _array(x: Any) -> np.ndarray:
    """A number, array or gradcore tensor as a NumPy array (no copy where possible; bfloat16
    through float32, which holds it exactly)."""
    if isinstance(x, Tensor):
        x = x.detach()
        if x.dtype is _core.bfloat16:
            x = x.float()
        return np.asarray(x.numpy())
    return np.asarray(x)


def _scalar(value: Any) -> float:
    """One number as a float; AssertionError otherwise (PyTorch's type for this check)."""
    a = _array(value)
    if a.squeeze().ndim != 0:
        raise AssertionError(f"Tensor should contain one element (0 dimensions). Was given size: {a.size} "
                             f"and {a.ndim} dimensions.")
    return float(a.reshape(()).item())


# TensorFlow's default histogram buckets: +-1e-12 * 1.1**k below 1e20, and 0.
_POS: List[float] = []
_v = 1e-12
while _v < 1e20:
    _POS.append(_v)
    _v *= 1.1
_TF_EDGES = np.array([-x for x in reversed(_POS)] + [0.0] + _POS)


def _histogram(values: Any, bins: Any, max_bins: Optional[int]) -> Any:
    """A HistogramProto of ``values`` (``bins`` as NumPy's histogram takes it, or
    "tensorflow"), as PyTorch builds it: with more than ``max_bins`` buckets, runs of
    ``len // max_bins`` neighbours are merged (the last run padded); then only the buckets
    from the first to the last non-empty one are kept, plus one empty bucket ending where
    the first non-empty one begins (TensorBoard stores right limits only)."""
    a = _array(values).astype(np.float64).ravel()
    if a.size == 0:
        raise ValueError("The input has no element.")
    edges = _TF_EDGES if isinstance(bins, str) and bins == "tensorflow" else bins
    counts, limits = np.histogram(a, bins=edges)
    if max_bins is not None and len(counts) > max_bins:
        run = len(counts) // max_bins
        counts = np.pad(counts, (0, -len(counts) % run)).reshape(-1, run).sum(axis=1)
        limits = np.append(limits[:-1:run], limits[-1])
    nz = np.flatnonzero(counts)
    first, last = (int(nz[0]), int(nz[-1])) if nz.size else (0, len(counts) - 1)
    kept = np.concatenate([[0], counts[first:last + 1]])
    return summary_pb2.HistogramProto(min=float(a.min()), max=float(a.max()), num=int(a.size),
                                      sum=float(a.sum()), sum_squares=float(np.dot(a, a)),
                                      bucket_limit=[float(x) for x in limits[first:last + 2]],
                                      bucket=[float(c) for c in kept])


def _plugin_value(tag: str, plugin: str, content: bytes, tensor: Any = None) -> Any:
    meta = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(
        plugin_name=plugin, content=content))
    if tensor is None:
        return summary_pb2.Summary.Value(tag=tag, metadata=meta)
    return summary_pb2.Summary.Value(tag=tag, metadata=meta, tensor=tensor)


class _FileWriter:
    """One event file (a directory's worth of a run): Events in, through EventFileWriter."""

    def __init__(self, log_dir: str, max_queue: int, flush_secs: int, filename_suffix: str) -> None:
        self.writer = EventFileWriter(log_dir, max_queue, flush_secs, filename_suffix)

    def get_logdir(self) -> str:
        return str(self.writer.get_logdir())

    def add_event(self, event: Any, step: Optional[int], walltime: Optional[float]) -> None:
        event.wall_time = time.time() if walltime is None else float(walltime)
        if step is not None:
            event.step = int(step)
        self.writer.add_event(event)

    def add_summary(self, value: Any, step: Optional[int], walltime: Optional[float]) -> None:
        self.add_event(event_pb2.Event(summary=summary_pb2.Summary(value=[value])), step, walltime)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class SummaryWriter:
    """Write TensorBoard event files to ``log_dir`` (PyTorch's ``SummaryWriter``).

    ``log_dir`` defaults to ``runs/<Mon>DD_HH-MM-SS_<hostname><comment>``; ``comment`` is
    ignored when ``log_dir`` is given. ``purge_step``: when resuming a run that crashed after
    step N, pass N so TensorBoard hides the events at and after N from the old files.
    ``max_queue`` events are buffered and flushed at least every ``flush_secs`` seconds.
    """

    def __init__(self, log_dir: Optional[Union[str, "os.PathLike[str]"]] = None, comment: str = "",
                 purge_step: Optional[int] = None,
                 max_queue: int = 10, flush_secs: int = 120, filename_suffix: str = "") -> None:
        if not log_dir:
            stamp = datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", stamp + "_" + socket.gethostname() + comment)
        self.log_dir = os.fspath(log_dir)
        self.purge_step = purge_step
        self.max_queue = max_queue
        self.flush_secs = flush_secs
        self.filename_suffix = filename_suffix
        self.file_writer: Optional[_FileWriter] = None
        self.all_writers: Dict[str, _FileWriter] = {}
        self._get_file_writer()

    def _get_file_writer(self) -> _FileWriter:
        """The run's own event file, (re)opened on first use or after close()."""
        if self.file_writer is None:
            self.file_writer = _FileWriter(self.log_dir, self.max_queue, self.flush_secs, self.filename_suffix)
            self.all_writers = {self.file_writer.get_logdir(): self.file_writer}
            if self.purge_step is not None:
                step = self.purge_step
                self.file_writer.add_event(event_pb2.Event(file_version="brain.Event:2"), step, None)
                self.file_writer.add_event(event_pb2.Event(session_log=event_pb2.SessionLog(
                    status=event_pb2.SessionLog.START)), step, None)
                self.purge_step = None
        return self.file_writer

    def get_logdir(self) -> str:
        """The directory the event files are written to."""
        return self.log_dir

    def add_scalar(self, tag: str, scalar_value: Any, global_step: Optional[int] = None,
                   walltime: Optional[float] = None) -> None:
        """One number (a Python number, a one-element array or tensor) at ``global_step``."""
        value = summary_pb2.Summary.Value(tag=tag, simple_value=_scalar(scalar_value))
        self._get_file_writer().add_summary(value, global_step, walltime)

    def add_scalars(self, main_tag: str, tag_scalar_dict: Dict[str, Any], global_step: Optional[int] = None,
                    walltime: Optional[float] = None) -> None:
        """Several numbers on one chart: each ``tag`` goes to its own run,
        ``<log_dir>/<main_tag with / as _>_<tag>``, under the tag ``main_tag`` (PyTorch's layout)."""
        walltime = time.time() if walltime is None else walltime
        root = self._get_file_writer().get_logdir()
        for tag, v in tag_scalar_dict.items():
            path = os.path.join(root, main_tag.replace("/", "_") + "_" + tag)
            w = self.all_writers.get(path)
            if w is None:
                w = self.all_writers[path] = _FileWriter(path, self.max_queue, self.flush_secs, self.filename_suffix)
            w.add_summary(summary_pb2.Summary.Value(tag=main_tag, simple_value=_scalar(v)), global_step, walltime)

    def add_histogram(self, tag: str, values: Any, global_step: Optional[int] = None, bins: Any = "tensorflow",
                      walltime: Optional[float] = None, max_bins: Optional[int] = None) -> None:
        """A histogram of ``values``; ``bins`` is "tensorflow" (TensorFlow's exponential
        buckets) or anything ``numpy.histogram`` accepts."""
        value = summary_pb2.Summary.Value(tag=tag, histo=_histogram(values, bins, max_bins))
        self._get_file_writer().add_summary(value, global_step, walltime)

    def add_text(self, tag: str, text_string: str, global_step: Optional[int] = None,
                 walltime: Optional[float] = None) -> None:
        """A (Markdown) string, under ``<tag>/text_summary`` as in PyTorch."""
        if not isinstance(text_string, str):
            raise TypeError(f"add_text: text_string must be a str, got {type(text_string).__name__}")
        tensor = tensor_pb2.TensorProto(dtype="DT_STRING", string_val=[text_string.encode("utf-8")],
                                        tensor_shape=tensor_shape_pb2.TensorShapeProto(
                                            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=1)]))
        value = _plugin_value(tag + "/text_summary", "text", b"", tensor)
        self._get_file_writer().add_summary(value, global_step, walltime)

    def add_hparams(self, hparam_dict: Dict[str, Any], metric_dict: Dict[str, Any],
                    hparam_domain_discrete: Optional[Dict[str, Sequence[Any]]] = None,
                    run_name: Optional[str] = None, global_step: Optional[int] = None) -> None:
        """One run of a hyper-parameter search: ``hparam_dict`` (values: bool, str, numbers,
        one-element tensors) and its results ``metric_dict`` (written as scalars), in the
        sub-run ``run_name`` (default: the current time), as PyTorch writes them."""
        if not isinstance(hparam_dict, dict) or not isinstance(metric_dict, dict):
            raise TypeError("hparam_dict and metric_dict should be dictionary.")
        domains = hparam_domain_discrete or {}
        for k, vals in domains.items():
            if k not in hparam_dict or not isinstance(vals, (list, tuple)) or \
                    not all(isinstance(v, type(hparam_dict[k])) for v in vals):
                raise TypeError(f"parameter: hparam_domain_discrete[{k}] should be a list of same type as "
                                f"hparam_dict[{k}].")
        # Kinds as PyTorch writes them: its isinstance(v, (int, float)) test comes first, so a
        # bool is a number (0/1, DATA_TYPE_FLOAT64) there too.
        infos, start = [], plugin_data_pb2.SessionStartInfo()
        for k, v in hparam_dict.items():
            if v is None:
                continue
            if isinstance(v, Tensor):
                dtype, field, v, domain = api_pb2.DATA_TYPE_FLOAT64, "number_value", _scalar(v), None
            elif isinstance(v, (int, float)):
                dtype, field, domain = api_pb2.DATA_TYPE_FLOAT64, "number_value", domains.get(k)
            elif isinstance(v, str):
                dtype, field, domain = api_pb2.DATA_TYPE_STRING, "string_value", domains.get(k)
            else:
                raise ValueError("value should be one of int, float, str, bool, or torch.Tensor")
            setattr(start.hparams[k], field, v)
            info = api_pb2.HParamInfo(name=k, type=dtype)
            for d in domain or ():
                setattr(info.domain_discrete.values.add(), field, d)
            infos.append(info)
        experiment = api_pb2.Experiment(hparam_infos=infos, metric_infos=[
            api_pb2.MetricInfo(name=api_pb2.MetricName(tag=k)) for k in metric_dict])
        values = [
            ("_hparams_/experiment", plugin_data_pb2.HParamsPluginData(version=0, experiment=experiment)),
            ("_hparams_/session_start_info", plugin_data_pb2.HParamsPluginData(version=0, session_start_info=start)),
            ("_hparams_/session_end_info", plugin_data_pb2.HParamsPluginData(
                version=0, session_end_info=plugin_data_pb2.SessionEndInfo(status=api_pb2.STATUS_SUCCESS))),
        ]
        run_dir = os.path.join(self._get_file_writer().get_logdir(), run_name or str(time.time()))
        with SummaryWriter(log_dir=run_dir) as w:
            fw = w._get_file_writer()
            for tag, data in values:
                fw.add_summary(_plugin_value(tag, "hparams", data.SerializeToString()), None, None)
            for k, v in metric_dict.items():
                w.add_scalar(k, v, global_step)

    def add_graph(self, model: Any, input_to_model: Any = None, verbose: bool = False,
                  use_strict_trace: bool = True) -> None:
        """The graph autograd records when ``model`` runs on ``input_to_model`` (a tensor or
        a tuple/list of them): one node per backward node (its op the node's name), per
        parameter (``0/weight``: the module path, TensorBoard groups by "/"), per input
        (``input/0``) and per output (``output/0``). Floating inputs are fed as copies that
        require grad so that they appear in the graph; the model's gradients are untouched.
        ``verbose`` prints the nodes. ``use_strict_trace`` (PyTorch's JIT-tracing option) has
        nothing to control here: the graph is what autograd recorded."""
        inputs = input_to_model if isinstance(input_to_model, (tuple, list)) else (input_to_model,)
        if input_to_model is None:
            inputs = ()
        names: Dict[int, str] = {}
        if hasattr(model, "named_parameters"):
            names.update({id(p): n.replace(".", "/") for n, p in model.named_parameters()})
        fed: List[Any] = []
        for i, x in enumerate(inputs):
            if isinstance(x, Tensor) and x.dtype.is_floating_point:
                x = x.detach().requires_grad_(True)
                names[id(x)] = f"input/{i}"
            fed.append(x)
        with enable_grad():
            out = model(*fed)
        outs = out if isinstance(out, (tuple, list)) else (out,)
        graph = _graph_def(outs, names)
        if verbose:
            for n in graph.node:
                print(f"{n.name} = {n.op}({', '.join(n.input)})")
        event = event_pb2.Event(graph_def=graph.SerializeToString())
        self._get_file_writer().add_event(event, None, None)

    def flush(self) -> None:
        """Write every buffered event to disk."""
        for w in self.all_writers.values():
            w.flush()

    def close(self) -> None:
        """Flush and close every event file; a later ``add_*`` opens a new one."""
        for w in self.all_writers.values():
            w.flush()
            w.close()
        self.file_writer = None
        self.all_writers = {}

    def __enter__(self) -> "SummaryWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _attr(text: str) -> Any:
    return attr_value_pb2.AttrValue(s=text.encode("utf-8"))


def _graph_def(outputs: Sequence[Any], names: Dict[int, str]) -> Any:
    """Walk grad_fn/next_functions from ``outputs``; a backward node is scoped under the
    module path of a parameter it consumes directly (``0/LinearBackward0``)."""
    nodes: List[Any] = []
    node_name: Dict[int, str] = {}  # id(Node) -> graph node name
    keep: List[Any] = []  # holds the Nodes so their ids stay unique while walking
    used: Dict[str, int] = {}

    def unique(name: str) -> str:
        n = used.get(name, 0)
        used[name] = n + 1
        return name if n == 0 else f"{name}_{n}"

    def visit(root: Any) -> str:
        stack = [(root, False)]
        while stack:
            fn, expanded = stack.pop()
            if id(fn) in node_name and not expanded:
                continue
            nexts = [f for f, _ in fn.next_functions if f is not None]
            if fn.name() == "AccumulateGrad":
                v = fn.variable
                name = unique(names.get(id(v), "leaf"))
                node_name[id(fn)] = name
                keep.append(fn)
                nodes.append(node_def_pb2.NodeDef(name=name, op="Parameter" if not name.startswith("input/")
                                                  else "IO Node", attr={"shape": _attr(str(list(v.shape)))}))
                continue
            if not expanded:
                stack.append((fn, True))
                stack.extend((f, False) for f in nexts if id(f) not in node_name)
                continue
            scope = ""
            for f in nexts:
                if f.name() == "AccumulateGrad" and id(f.variable) in names:
                    path = names[id(f.variable)]
                    if not path.startswith("input/"):
                        scope = path.rsplit("/", 1)[0] + "/" if "/" in path else ""
                        break
            name = unique(scope + fn.name())
            node_name[id(fn)] = name
            keep.append(fn)
            attr = {"shape": _attr(str(list(fn.output_shape or ())))}
            nodes.append(node_def_pb2.NodeDef(name=name, op=fn.name(), input=[node_name[id(f)] for f in nexts],
                                              attr=attr))
        return node_name[id(root)]

    for i, o in enumerate(outputs):
        fn = o.grad_fn if isinstance(o, Tensor) else None
        src = [visit(fn)] if fn is not None else []
        nodes.append(node_def_pb2.NodeDef(name=f"output/{i}", op="IO Node", input=src))
    return graph_pb2.GraphDef(node=nodes, versions=versions_pb2.VersionDef(producer=22))
