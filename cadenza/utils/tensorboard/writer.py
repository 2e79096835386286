"""``SummaryWriter`` and ``FileWriter`` on the ``tensorboard`` package (an optional extra,
loaded on first use): summaries are the protocol buffers TensorBoard reads (scalars as
``simple_value``, histograms as ``HistogramProto``, images as PNG, text and hparams through
their plugins' metadata), written by ``tensorboard.summary.writer.EventFileWriter``.

``add_graph`` writes nothing and warns once: Cadenza's graphs are not TorchScript graphs, and
TensorBoard's graph plugin reads only those (``cadenza.compile`` graphs print with
``to_dot()``).
"""
from __future__ import annotations

import importlib
import os
import socket
import struct
import time
import types
import warnings
import zlib
from datetime import datetime

import numpy as np

from ..._tensor import Tensor

__all__ = ["SummaryWriter", "FileWriter"]

_MODULES = {
    "summary": "tensorboard.compat.proto.summary_pb2",
    "event": "tensorboard.compat.proto.event_pb2",
    "tensor": "tensorboard.compat.proto.tensor_pb2",
    "shape": "tensorboard.compat.proto.tensor_shape_pb2",
    "writer": "tensorboard.summary.writer.event_file_writer",
    "text": "tensorboard.plugins.text.plugin_data_pb2",
    "hp_api": "tensorboard.plugins.hparams.api_pb2",
    "hp_data": "tensorboard.plugins.hparams.plugin_data_pb2",
    "hp_meta": "tensorboard.plugins.hparams.metadata",
    "struct": "google.protobuf.struct_pb2",
}
_tb_cache = []


def _tb():
    """The tensorboard modules used here, imported on first use (one namespace)."""
    if not _tb_cache:
        try:
            mods = {k: importlib.import_module(v) for k, v in _MODULES.items()}
        except ImportError as e:
            raise ImportError("SummaryWriter needs the tensorboard package: pip install "
                              f"'cadenza[tensorboard]' (or pip install tensorboard); {e}"
                              ) from None
        _tb_cache.append(types.SimpleNamespace(**mods))
    return _tb_cache[0]


def _np(x) -> np.ndarray:
    if isinstance(x, Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _scalar(x) -> float:
    arr = _np(x)
    if arr.size != 1:
        raise ValueError(f"add_scalar: expected a scalar value, got shape {arr.shape}")
    return float(arr.reshape(()))


class FileWriter:
    """One event file in ``log_dir`` (``torch.utils.tensorboard.writer.FileWriter``)."""

    def __init__(self, log_dir, max_queue=10, flush_secs=120, filename_suffix="") -> None:
        tb = _tb()
        self.event_writer = tb.writer.EventFileWriter(str(log_dir), max_queue, flush_secs,
                                                      filename_suffix)

    def get_logdir(self) -> str:
        return self.event_writer.get_logdir()

    def add_event(self, event, step=None, walltime=None) -> None:
        event.wall_time = time.time() if walltime is None else walltime
        if step is not None:
            event.step = int(step)
        self.event_writer.add_event(event)

    def add_summary(self, summary, global_step=None, walltime=None) -> None:
        self.add_event(_tb().event.Event(summary=summary), global_step, walltime)

    def flush(self) -> None:
        self.event_writer.flush()

    def close(self) -> None:
        self.event_writer.close()

    def reopen(self) -> None:
        self.event_writer.reopen()


def _default_bins() -> list:
    """TensorFlow's histogram buckets (what PyTorch's writer uses for bins='tensorflow')."""
    v, pos = 1e-12, []
    while v < 1e20:
        pos.append(v)
        v *= 1.1
    return [-b for b in reversed(pos)] + [0.0] + pos


def _histogram(values: np.ndarray, bins, max_bins=None):
    """A ``HistogramProto`` of ``values`` (TensorBoard keeps only the right bucket limits, so
    an empty bucket is kept left of the first non-empty one)."""
    values = values.reshape(-1).astype(np.float64)
    if values.size == 0:
        raise ValueError("add_histogram: the input has no element")
    counts, limits = np.histogram(values, bins=bins)
    if max_bins is not None and len(counts) > max_bins:
        sub = len(counts) // max_bins
        counts = np.pad(counts, (0, -len(counts) % sub)).reshape(-1, sub).sum(axis=-1)
        limits = np.concatenate([limits[:-1:sub][:len(counts)], limits[-1:]])
    nz = np.flatnonzero(counts)
    start, end = int(nz[0]), int(nz[-1]) + 1
    counts = counts[start - 1:end] if start > 0 else np.concatenate([[0], counts[:end]])
    limits = limits[start:end + 1]
    return _tb().summary.HistogramProto(
        min=values.min(), max=values.max(), num=values.size, sum=values.sum(),
        sum_squares=values.dot(values), bucket_limit=limits.tolist(), bucket=counts.tolist())


def _to_hwc(img: np.ndarray, dataformats: str) -> np.ndarray:
    """An image array in ``dataformats`` (NCHW, CHW, HWC, HW ...) as HWC with 3 or 4
    channels; a batch becomes a grid of 8 columns."""
    fmt = dataformats.upper()
    if len(set(fmt)) != len(fmt) or len(fmt) != img.ndim:
        raise ValueError(f"add_image: dataformats {dataformats!r} does not fit an image of "
                         f"shape {img.shape}")
    if len(fmt) == 4:
        batch = img.transpose([fmt.find(c) for c in "NCHW"])
        if batch.shape[1] == 1:
            batch = np.repeat(batch, 3, axis=1)
        n, c, h, w = batch.shape
        cols = min(n, 8)
        rows = -(-n // cols)
        canvas = np.zeros((c, h * rows, w * cols), batch.dtype)
        for i in range(n):
            r, q = divmod(i, cols)
            canvas[:, r * h:(r + 1) * h, q * w:(q + 1) * w] = batch[i]
        return canvas.transpose(1, 2, 0)
    if len(fmt) == 3:
        hwc = img.transpose([fmt.find(c) for c in "HWC"])
        return np.repeat(hwc, 3, axis=2) if hwc.shape[2] == 1 else hwc
    if len(fmt) == 2:
        return np.stack([img.transpose([fmt.find(c) for c in "HW"])] * 3, axis=2)
    raise ValueError(f"add_image: unsupported dataformats {dataformats!r}")


def _png(hwc: np.ndarray) -> bytes:
    """PNG bytes of a uint8 HxWx{3,4} array (zlib only, no imaging library needed)."""
    h, w, c = hwc.shape
    raw = b"".join(b"\x00" + hwc[y].tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    color = {3: 2, 4: 6}[c]
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0,
                                                              0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def _image_summary(tag, img, dataformats):
    arr = _to_hwc(_np(img), dataformats)
    scale = 1 if arr.dtype == np.uint8 else 255  # floats are in [0, 1], as in PyTorch
    arr = (arr.astype(np.float32) * scale).clip(0, 255).astype(np.uint8)
    h, w, c = arr.shape
    summary = _tb().summary
    image = summary.Summary.Image(height=h, width=w, colorspace=c,
                                  encoded_image_string=_png(arr))
    return summary.Summary(value=[summary.Summary.Value(tag=tag, image=image)])


def _plugin_summary(tag, plugin, content: bytes, tensor=None):
    s = _tb().summary
    meta = s.SummaryMetadata(plugin_data=s.SummaryMetadata.PluginData(plugin_name=plugin,
                                                                      content=content))
    value = s.Summary.Value(tag=tag, metadata=meta)
    if tensor is not None:
        value.tensor.CopyFrom(tensor)
    return s.Summary(value=[value])


def _text_summary(tag, text: str):
    tb = _tb()
    shape = tb.shape.TensorShapeProto(dim=[tb.shape.TensorShapeProto.Dim(size=1)])
    tensor = tb.tensor.TensorProto(dtype="DT_STRING", string_val=[text.encode("utf-8")],
                                   tensor_shape=shape)
    return _plugin_summary(tag + "/text_summary", "text",
                           tb.text.TextPluginData(version=0).SerializeToString(), tensor)


# numbers first: a bool is an int, logged as 1.0 / 0.0 as PyTorch's writer logs it
_HP_KINDS = (((int, float), "number_value", "DATA_TYPE_FLOAT64"),
             (str, "string_value", "DATA_TYPE_STRING"))


def _hparams_summaries(hparam_dict, metric_dict, domains):
    """The experiment, session-start and session-end summaries of the hparams plugin."""
    tb = _tb()
    api, data, meta = tb.hp_api, tb.hp_data, tb.hp_meta
    domains = domains or {}
    ssi = data.SessionStartInfo()
    infos = []
    for k, v in hparam_dict.items():
        if v is None:
            continue
        if isinstance(v, Tensor):
            v = float(_np(v).reshape(-1)[0])
        for types_, field, dtype in _HP_KINDS:
            if isinstance(v, types_):
                break
        else:
            raise ValueError(f"add_hparams: {k!r} is a {type(v).__name__}; values must be "
                             "int, float, str, bool or Tensor")
        setattr(ssi.hparams[k], field, v)
        info = api.HParamInfo(name=k, type=api.DataType.Value(dtype))
        if k in domains:
            info.domain_discrete.CopyFrom(tb.struct.ListValue(
                values=[tb.struct.Value(**{field: d}) for d in domains[k]]))
        infos.append(info)

    def wrap(tag, **content):
        plugin = data.HParamsPluginData(version=meta.PLUGIN_DATA_VERSION, **content)
        return _plugin_summary(tag, meta.PLUGIN_NAME, plugin.SerializeToString())

    exp = api.Experiment(hparam_infos=infos, metric_infos=[
        api.MetricInfo(name=api.MetricName(tag=k)) for k in metric_dict])
    sei = data.SessionEndInfo(status=api.Status.Value("STATUS_SUCCESS"))
    return (wrap(meta.EXPERIMENT_TAG, experiment=exp),
            wrap(meta.SESSION_START_INFO_TAG, session_start_info=ssi),
            wrap(meta.SESSION_END_INFO_TAG, session_end_info=sei))


class SummaryWriter:
    """``torch.utils.tensorboard.SummaryWriter``: log scalars, histograms, images, text and
    hyperparameters for TensorBoard. ``log_dir`` defaults to ``runs/<date>_<host><comment>``
    as in PyTorch."""

    _graph_warned = False

    def __init__(self, log_dir=None, comment="", purge_step=None, max_queue=10,
                 flush_secs=120, filename_suffix="") -> None:
        _tb()  # a clear ImportError now, not at the first add_*
        if not log_dir:
            stamp = datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", f"{stamp}_{socket.gethostname()}{comment}")
        self.log_dir = str(log_dir)
        self.purge_step = purge_step
        self.max_queue = max_queue
        self.flush_secs = flush_secs
        self.filename_suffix = filename_suffix
        self.file_writer = None
        self.all_writers = None
        self.default_bins = _default_bins()
        self._get_file_writer()

    def _get_file_writer(self) -> FileWriter:
        if self.all_writers is None or self.file_writer is None:
            self.file_writer = FileWriter(self.log_dir, self.max_queue, self.flush_secs,
                                          self.filename_suffix)
            self.all_writers = {self.file_writer.get_logdir(): self.file_writer}
            if self.purge_step is not None:
                tb = _tb()
                self.file_writer.add_event(tb.event.Event(
                    step=self.purge_step, file_version="brain.Event:2"))
                self.file_writer.add_event(tb.event.Event(
                    step=self.purge_step,
                    session_log=tb.event.SessionLog(status=tb.event.SessionLog.START)))
                self.purge_step = None
        return self.file_writer

    def get_logdir(self) -> str:
        return self.log_dir

    def _add(self, summary, global_step, walltime) -> None:
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None,
                   new_style=False, double_precision=False) -> None:
        s = _tb().summary
        value = s.Summary.Value(tag=tag, simple_value=_scalar(scalar_value))
        self._add(s.Summary(value=[value]), global_step, walltime)

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None) -> None:
        """Each value in its own run ``<log_dir>/<main_tag>_<tag>``, under ``main_tag``."""
        walltime = time.time() if walltime is None else walltime
        base = self._get_file_writer().get_logdir()
        s = _tb().summary
        for tag, value in tag_scalar_dict.items():
            path = base + "/" + main_tag.replace("/", "_") + "_" + tag
            fw = self.all_writers.get(path)
            if fw is None:
                fw = self.all_writers[path] = FileWriter(path, self.max_queue,
                                                         self.flush_secs, self.filename_suffix)
            fw.add_summary(s.Summary(value=[s.Summary.Value(
                tag=main_tag, simple_value=_scalar(value))]), global_step, walltime)

    def add_tensor(self, tag, tensor, global_step=None, walltime=None) -> None:
        tb = _tb()
        arr = _np(tensor)
        proto = tb.tensor.TensorProto(
            dtype="DT_FLOAT", float_val=arr.reshape(-1).astype(np.float32).tolist(),
            tensor_shape=tb.shape.TensorShapeProto(
                dim=[tb.shape.TensorShapeProto.Dim(size=int(d)) for d in arr.shape]))
        self._add(_plugin_summary(tag, "tensor", b"", proto), global_step, walltime)

    def add_histogram(self, tag, values, global_step=None, bins="tensorflow", walltime=None,
                      max_bins=None) -> None:
        if isinstance(bins, str) and bins == "tensorflow":
            bins = self.default_bins
        s = _tb().summary
        hist = _histogram(_np(values), bins, max_bins)
        self._add(s.Summary(value=[s.Summary.Value(tag=tag, histo=hist)]), global_step,
                  walltime)

    def add_histogram_raw(self, tag, min, max, num, sum, sum_squares, bucket_limits,
                          bucket_counts, global_step=None, walltime=None) -> None:
        if len(bucket_limits) != len(bucket_counts):
            raise ValueError("add_histogram_raw: len(bucket_limits) != len(bucket_counts)")
        s = _tb().summary
        hist = s.HistogramProto(min=min, max=max, num=num, sum=sum, sum_squares=sum_squares,
                                bucket_limit=list(bucket_limits), bucket=list(bucket_counts))
        self._add(s.Summary(value=[s.Summary.Value(tag=tag, histo=hist)]), global_step,
                  walltime)

    def add_image(self, tag, img_tensor, global_step=None, walltime=None,
                  dataformats="CHW") -> None:
        self._add(_image_summary(tag, img_tensor, dataformats), global_step, walltime)

    def add_images(self, tag, img_tensor, global_step=None, walltime=None,
                   dataformats="NCHW") -> None:
        self._add(_image_summary(tag, img_tensor, dataformats), global_step, walltime)

    def add_figure(self, tag, figure, global_step=None, close=True, walltime=None) -> None:
        """A matplotlib figure (or a list of them) rendered as an image."""
        figs = figure if isinstance(figure, list) else [figure]
        imgs = []
        for fig in figs:
            fig.canvas.draw()
            imgs.append(np.asarray(fig.canvas.buffer_rgba())[..., :3].transpose(2, 0, 1))
            if close:
                fig.clf()
        batch = np.stack(imgs) if len(imgs) > 1 else imgs[0]
        self._add(_image_summary(tag, batch, "NCHW" if len(imgs) > 1 else "CHW"),
                  global_step, walltime)

    def add_text(self, tag, text_string, global_step=None, walltime=None) -> None:
        self._add(_text_summary(tag, str(text_string)), global_step, walltime)

    def add_hparams(self, hparam_dict, metric_dict, hparam_domain_discrete=None,
                    run_name=None, global_step=None) -> None:
        """The hyperparameters and final metrics of a run, in ``<log_dir>/<run_name>`` (a
        timestamp by default) for TensorBoard's HPARAMS tab."""
        if type(hparam_dict) is not dict or type(metric_dict) is not dict:
            raise TypeError("hparam_dict and metric_dict should be dictionary.")
        summaries = _hparams_summaries(hparam_dict, metric_dict, hparam_domain_discrete)
        logdir = os.path.join(self._get_file_writer().get_logdir(),
                              run_name or str(time.time()))
        with SummaryWriter(log_dir=logdir) as w:
            for s in summaries:
                w._add(s, global_step, None)
            for k, v in metric_dict.items():
                w.add_scalar(k, v, global_step)

    def add_graph(self, model, input_to_model=None, verbose=False, use_strict_trace=True
                  ) -> None:
        """Writes nothing (see the module docstring); warns once per process."""
        if not SummaryWriter._graph_warned:
            SummaryWriter._graph_warned = True
            warnings.warn("SummaryWriter.add_graph: Cadenza writes no model graph to "
                          "TensorBoard (its graph plugin reads TorchScript graphs only); "
                          "scalars, histograms, images and text are written as usual",
                          stacklevel=2)

    def flush(self) -> None:
        for w in (self.all_writers or {}).values():
            w.flush()

    def close(self) -> None:
        for w in (self.all_writers or {}).values():
            w.flush()
            w.close()
        self.file_writer = self.all_writers = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
