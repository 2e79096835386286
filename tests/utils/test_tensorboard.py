"""SummaryWriter writes real TensorBoard event files: read back with TensorBoard's own
EventAccumulator and compared with what PyTorch's SummaryWriter writes for the same calls."""
import importlib
import os
import sys
import warnings

import numpy as np
import pytest

import cadenza as C

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from cadenza.utils.tensorboard import SummaryWriter, writer as tbw  # noqa: E402

SIZES = {"images": 0, "histograms": 0, "scalars": 0, "tensors": 0}


def read(path):
    ea = EventAccumulator(str(path), size_guidance=SIZES)
    ea.Reload()
    return ea


def log_everything(lib, SW, path):
    rng = np.random.default_rng(0)
    hist = rng.standard_normal(500).astype(np.float32)
    img = rng.random((3, 6, 5)).astype(np.float32)
    with SW(str(path)) as w:
        for step in range(4):
            w.add_scalar("train/loss", lib.tensor(1.0 / (step + 1)), step)
            w.add_scalar("lr", 0.1 * step, global_step=step)
        w.add_scalars("cmp", {"a": 1.5, "b": 2.5}, 7)
        w.add_histogram("weights", lib.from_numpy(hist), 3)
        w.add_histogram("weights_auto", hist, 3, bins="auto")
        w.add_text("notes", "epoch *one*", 1)
        w.add_image("image", lib.from_numpy(img), 2)
        w.add_hparams({"lr": 0.01, "layers": 2, "opt": "adam", "wd": True},
                      {"hparam/accuracy": 0.75}, run_name="hp")


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    torch = pytest.importorskip("torch")
    from torch.utils.tensorboard import SummaryWriter as TorchSW
    base = tmp_path_factory.mktemp("tb")
    log_everything(C, SummaryWriter, base / "mine")
    log_everything(torch, TorchSW, base / "ref")
    return base / "mine", base / "ref"


def test_scalars_read_back_with_values_and_steps(both):
    mine, _ = both
    ea = read(mine)
    assert [(e.step, e.value) for e in ea.Scalars("train/loss")] == \
        [(0, 1.0), (1, 0.5), (2, pytest.approx(1 / 3)), (3, 0.25)]
    assert [e.step for e in ea.Scalars("lr")] == [0, 1, 2, 3]


def test_same_tags_scalars_runs_and_histograms_as_torch(both):
    mine, ref = both
    a, b = read(mine), read(ref)
    for kind in ("scalars", "histograms", "images", "tensors"):
        assert sorted(a.Tags()[kind]) == sorted(b.Tags()[kind]), kind
    for tag in a.Tags()["scalars"]:
        assert [(e.step, e.value) for e in a.Scalars(tag)] == \
            [(e.step, e.value) for e in b.Scalars(tag)]
    for tag in ("weights", "weights_auto"):
        ha, hb = a.Histograms(tag)[0], b.Histograms(tag)[0]
        assert ha.step == hb.step == 3
        va, vb = ha.histogram_value, hb.histogram_value
        for field in ("min", "max", "num", "sum", "sum_squares"):
            assert getattr(va, field) == pytest.approx(getattr(vb, field), rel=1e-6), field
        np.testing.assert_allclose(va.bucket_limit, vb.bucket_limit)
        np.testing.assert_array_equal(va.bucket, vb.bucket)
    runs = [sorted(n for n in os.listdir(d) if "tfevents" not in n) for d in (mine, ref)]
    assert runs[0] == runs[1] == ["cmp_a", "cmp_b", "hp"]
    for run in ("cmp_a", "cmp_b"):
        assert [(e.step, e.value) for e in read(mine / run).Scalars("cmp")] == \
            [(e.step, e.value) for e in read(ref / run).Scalars("cmp")]


def test_text_and_hparams_match_torch(both):
    mine, ref = both
    a, b = read(mine), read(ref)
    ta, tb = a.Tensors("notes/text_summary")[0], b.Tensors("notes/text_summary")[0]
    assert ta.tensor_proto.string_val == tb.tensor_proto.string_val == [b"epoch *one*"]
    assert a.SummaryMetadata("notes/text_summary") == b.SummaryMetadata("notes/text_summary")
    ha, hb = read(mine / "hp"), read(ref / "hp")
    assert ha.PluginTagToContent("hparams") == hb.PluginTagToContent("hparams")
    assert [e.value for e in ha.Scalars("hparam/accuracy")] == [0.75]


def test_images_decode_to_torchs_pixels(both):
    pil = pytest.importorskip("PIL.Image")
    import io
    mine, ref = both
    ia, ib = read(mine).Images("image")[0], read(ref).Images("image")[0]
    assert (ia.width, ia.height, ia.step) == (ib.width, ib.height, ib.step) == (5, 6, 2)
    pa = np.asarray(pil.open(io.BytesIO(ia.encoded_image_string)))
    pb = np.asarray(pil.open(io.BytesIO(ib.encoded_image_string)))
    np.testing.assert_array_equal(pa, pb)


def test_image_formats_and_grid(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_images("batch", np.ones((5, 1, 4, 3), np.float32), 0)  # 5 grey images
        w.add_image("hw", np.zeros((4, 3), np.uint8), 0, dataformats="HW")
        w.add_image("hwc", np.zeros((4, 3, 4), np.uint8), 0, dataformats="HWC")
        with pytest.raises(ValueError, match="dataformats"):
            w.add_image("bad", np.zeros((4, 3)), 0)
    ea = read(tmp_path)
    grid = ea.Images("batch")[0]
    assert (grid.width, grid.height) == (15, 4)
    assert ea.Images("hwc")[0].width == 3


def test_default_log_dir_purge_step_flush_and_context_manager(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    w = SummaryWriter(comment="_exp")
    assert w.log_dir.startswith("runs" + os.sep) and w.log_dir.endswith(
        f"_{__import__('socket').gethostname()}_exp")
    w.add_scalar("x", 1, 0)
    w.flush()
    assert [e.value for e in read(w.log_dir).Scalars("x")] == [1.0]
    w.close()
    w.close()  # twice is fine
    with SummaryWriter(tmp_path / "p", purge_step=5) as p:
        p.add_scalar("y", 2.0, 5)
    assert [e.step for e in read(tmp_path / "p").Scalars("y")] == [5]


def test_add_graph_warns_once_and_writes_nothing(tmp_path):
    SummaryWriter._graph_warned = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with SummaryWriter(tmp_path) as w:
            w.add_graph(C.nn.Linear(2, 2), C.ones(1, 2))
            w.add_graph(C.nn.Linear(2, 2), C.ones(1, 2))
    assert len([c for c in caught if "add_graph" in str(c.message)]) == 1
    assert read(tmp_path).Tags()["graph"] is False


def test_scalar_must_be_scalar(tmp_path):
    with SummaryWriter(tmp_path) as w:
        with pytest.raises(ValueError, match="scalar"):
            w.add_scalar("v", C.ones(2), 0)


def test_without_tensorboard_a_clear_import_error(monkeypatch):
    monkeypatch.setattr(tbw, "_tb_cache", [])
    monkeypatch.setitem(sys.modules, "tensorboard.summary.writer.event_file_writer", None)
    with pytest.raises(ImportError, match=r"cadenza\[tensorboard\]"):
        SummaryWriter("unused")
    assert importlib.import_module("cadenza.utils.tensorboard") is not None
