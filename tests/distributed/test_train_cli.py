"""`cadenza train --nproc 2`: data-parallel LLM training through the CLI matches one process
with the same global batch, writes files from rank 0 only, and resumes exactly."""
import json
import os
import subprocess
import sys

import numpy as np

import cadenza
from _mpi import _mpiexec, env

TINY = ["--n-layer", "1", "--n-head", "2", "--n-embd", "32", "--block-size", "32",
        "--batch-size", "4", "--eval-every", "3", "--eval-batches", "2", "--ckpt-every", "3",
        "--warmup", "2", "--lr", "1e-2"]


def _corpus(tmp_path):
    d = tmp_path / "corpus"
    d.mkdir()
    src = "def f(x):\n    return x + 1\n\n\nclass A:\n    def g(self):\n        pass\n"
    (d / "a.py").write_text(src * 40)
    return d


def _train(tmp_path, out, *extra):
    cmd = [sys.executable, "-m", "cadenza", "train", "--corpus", str(_corpus_dir(tmp_path)),
           "--out", str(tmp_path / out), *TINY, *extra]
    r = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=120,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def _corpus_dir(tmp_path):
    d = tmp_path / "corpus"
    return d if d.exists() else _corpus(tmp_path)


def _losses(path):
    return [json.loads(ln)["loss"] for ln in open(os.path.join(path, "metrics.jsonl"))]


def _weights(path):
    st = cadenza.load(os.path.join(path, "ckpt.safetensors"))
    return {k: v.numpy().copy() for k, v in st["model"].items()}


def test_two_ranks_match_one_process_and_resume_exactly(tmp_path):
    _mpiexec()  # skips when MPI is not installed
    _train(tmp_path, "one", "--steps", "6")
    _train(tmp_path, "two", "--steps", "6", "--nproc", "2")
    np.testing.assert_allclose(_losses(tmp_path / "two"), _losses(tmp_path / "one"), rtol=1e-5)
    w1, w2 = _weights(tmp_path / "one"), _weights(tmp_path / "two")
    for k in w1:
        np.testing.assert_allclose(w2[k], w1[k], rtol=1e-3, atol=5e-5)  # AdamW: float32 noise
    # only rank 0 wrote: one metrics line per step
    assert len(_losses(tmp_path / "two")) == 6
    # 3 steps + resume to 6 on two ranks == 6 straight on two ranks, bit for bit
    _train(tmp_path, "part", "--steps", "3", "--decay-steps", "6", "--nproc", "2")
    _train(tmp_path, "part", "--steps", "6", "--resume", str(tmp_path / "part"),
           "--nproc", "2")
    assert _losses(tmp_path / "part") == _losses(tmp_path / "two")
    wp = _weights(tmp_path / "part")
    for k in w2:
        np.testing.assert_array_equal(wp[k], w2[k])


def test_batch_must_divide_among_ranks(tmp_path):
    _mpiexec()
    cmd = [sys.executable, "-m", "cadenza", "train", "--corpus", str(_corpus_dir(tmp_path)),
           "--out", str(tmp_path / "bad"), *TINY[:-8], "--batch-size", "3", "--steps", "2",
           "--nproc", "2"]
    r = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert "divisible" in r.stdout + r.stderr


def test_cadenza_launch_runs_a_script_on_two_ranks(tmp_path):
    _mpiexec()
    script = tmp_path / "hello.py"
    # each rank writes its own file: the ranks' stdout lines may interleave
    script.write_text("import sys\n"
                      "import cadenza.distributed as dist\n"
                      "import cadenza\n"
                      "dist.init_process_group('mpi')\n"
                      "t = cadenza.tensor([float(dist.get_rank() + 1)])\n"
                      "dist.all_reduce(t)\n"
                      "r = dist.get_rank()\n"
                      "open(f'{sys.argv[1]}/rank{r}.txt', 'w').write(\n"
                      "    f'rank {r} of {dist.get_world_size()} {t.item()}')\n")
    r = subprocess.run([sys.executable, "-m", "cadenza", "launch", "-n", "2", str(script),
                        str(tmp_path)], env=env(), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "rank0.txt").read_text() == "rank 0 of 2 3.0"
    assert (tmp_path / "rank1.txt").read_text() == "rank 1 of 2 3.0"
