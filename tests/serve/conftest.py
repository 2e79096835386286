"""Shared by the server tests: a tiny model trained here (a few steps of `cadenza train`) and a
`cadenza serve` subprocess serving it (serve_util.Server). Every wait is bounded."""
import os
import sysconfig

import pytest

from serve_util import BLOCK, Server


@pytest.fixture(scope="session")
def tiny_ckpt(tmp_path_factory):
    """A 2-layer byte-level GPT, context 128, trained 2 steps on one stdlib module."""
    from cadenza.cli import main
    d = tmp_path_factory.mktemp("serve")
    corpus = d / "corpus"
    corpus.mkdir()
    with open(os.path.join(sysconfig.get_paths()["stdlib"], "textwrap.py"), "rb") as f:
        (corpus / "textwrap.py").write_bytes(f.read())
    out = d / "ckpt"
    rc = main(["train", "--corpus", str(corpus), "--ext", ".py", "--out", str(out),
               "--n-layer", "2", "--n-head", "2", "--n-embd", "32", "--block-size", str(BLOCK),
               "--batch-size", "2", "--steps", "2", "--eval-every", "2", "--eval-batches", "1",
               "--ckpt-every", "2", "--warmup", "1", "--seed", "0"])
    assert rc == 0
    return str(out)


@pytest.fixture(scope="module")
def server(tiny_ckpt):
    s = Server("--ckpt", tiny_ckpt, "--model-name", "tiny", "--max-batch", "4",
               "--max-queue", "16")
    yield s
    rc = s.stop()
    assert rc == 0, s.log
