"""torch.hub without a network (local hubconf.py, the hub cache's checkpoints, never a
download, never an unpickle) and torch.backends.opt_einsum (switches; einsum's value the same
under every contraction order), against torch where torch runs offline."""
import hashlib
import os
import pickle
import textwrap

import numpy as np
import pytest
import torch

import cadenza
from cadenza.io import CheckpointError

HUBCONF = textwrap.dedent('''
    dependencies = ["numpy"]
    import helper_mod

    def _private():
        return 0

    def adder(x, y=2, *, scale=1):
        """Returns (x + y) * scale."""
        return (x + y) * scale + helper_mod.ZERO

    CONSTANT = 3
    ''')


@pytest.fixture()
def repo(tmp_path):
    (tmp_path / "hubconf.py").write_text(HUBCONF)
    (tmp_path / "helper_mod.py").write_text("ZERO = 0\n")
    return tmp_path


def test_hub_load_local_matches_torch(repo):
    for hub in (torch.hub, cadenza.hub):
        assert hub.load(str(repo), "adder", 1, y=4, scale=3, source="local") == 15
        with pytest.raises(RuntimeError, match="Cannot find callable missing"):
            hub.load(str(repo), "missing", source="local")
        with pytest.raises(ValueError, match="Unknown source"):
            hub.load(str(repo), "adder", source="ftp")
    assert cadenza.hub.list(str(repo)) == ["adder"]
    assert cadenza.hub.help(str(repo), "adder") == "Returns (x + y) * scale."


def test_hub_missing_dependency(tmp_path):
    (tmp_path / "hubconf.py").write_text("dependencies = ['no_such_pkg_xyz']\n"
                                         "def m():\n    return 1\n")
    for hub in (torch.hub, cadenza.hub):
        with pytest.raises(RuntimeError, match="Missing dependencies: no_such_pkg_xyz"):
            hub.load(str(tmp_path), "m", source="local")


def test_hub_github_uses_cache_only(tmp_path, repo):
    old = cadenza.hub.get_dir()
    cadenza.hub.set_dir(tmp_path / "hub")
    try:
        assert cadenza.hub.get_dir() == str(tmp_path / "hub")
        with pytest.raises(cadenza.hub.HubDownloadError, match="downloads nothing"):
            cadenza.hub.load("someone/somerepo", "adder", 1)
        checkout = tmp_path / "hub" / "someone_somerepo_main"
        checkout.mkdir(parents=True)
        (checkout / "hubconf.py").write_text(HUBCONF)
        (checkout / "helper_mod.py").write_text("ZERO = 0\n")
        assert cadenza.hub.load("someone/somerepo", "adder", 1) == 3
        assert cadenza.hub.list("someone/somerepo") == ["adder"]
    finally:
        cadenza.hub.set_dir(old)


class _Boom:
    def __reduce__(self):
        return (os.mkdir, (_Boom.target,))


def test_hub_checkpoints_read_from_cache_safely(tmp_path):
    old = cadenza.hub.get_dir()
    cadenza.hub.set_dir(tmp_path)
    try:
        ck = tmp_path / "checkpoints"
        ck.mkdir()
        state = {"w": cadenza.arange(3.0)}
        raw = ck / "raw.pt"
        cadenza.save(state, raw)
        sha = hashlib.sha256(raw.read_bytes()).hexdigest()
        named = ck / f"net-{sha[:8]}.pth"
        raw.rename(named)
        got = cadenza.hub.load_state_dict_from_url(f"https://example.com/w/{named.name}",
                                                    check_hash=True)
        np.testing.assert_array_equal(got["w"].numpy(), [0.0, 1.0, 2.0])
        bad = ck / "net-ffffffff.pth"
        bad.write_bytes(named.read_bytes())
        with pytest.raises(RuntimeError, match="invalid hash"):
            cadenza.hub.load_state_dict_from_url(f"https://x/{bad.name}", check_hash=True)
        with pytest.raises(cadenza.hub.HubDownloadError, match="downloads nothing"):
            cadenza.hub.load_state_dict_from_url("https://example.com/absent.pth")
        # a pickle (what torch.save writes is one): refused, and its code never runs
        _Boom.target = str(tmp_path / "pwned")
        (ck / "evil.pth").write_bytes(pickle.dumps(_Boom()))
        with pytest.raises(CheckpointError):
            cadenza.hub.load_state_dict_from_url("https://example.com/evil.pth")
        assert not os.path.exists(_Boom.target)
        dst = tmp_path / "copy.pth"
        cadenza.hub.download_url_to_file(f"https://x/{named.name}", str(dst),
                                         hash_prefix=sha[:6])
        assert dst.read_bytes() == named.read_bytes()
        with pytest.raises(cadenza.hub.HubDownloadError):
            cadenza.hub.download_url_to_file("https://example.com/absent.bin", str(dst))
    finally:
        cadenza.hub.set_dir(old)


def test_opt_einsum_switches_and_values():
    import cadenza.backends.opt_einsum as oe
    b = cadenza.backends.opt_einsum
    assert oe is b and b.is_available() and b.enabled and b.strategy == "auto"
    rng = np.random.default_rng(0)
    arrs = [rng.standard_normal(s) for s in [(3, 4), (4, 5), (5, 2), (2, 3)]]
    eq = "ij,jk,kl,lm->im"
    ref = torch.einsum(eq, *[torch.tensor(a) for a in arrs]).numpy()
    xs = [cadenza.tensor(a, requires_grad=True) for a in arrs]
    grads = []
    for enabled, strategy in [(True, "auto"), (True, "greedy"), (True, "optimal"),
                              (False, None)]:
        with b.flags(enabled=enabled, strategy=strategy):
            assert b.enabled is enabled and b.strategy == strategy
            out = cadenza.einsum(eq, *xs)
            np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-12, atol=1e-12)
            grads.append(cadenza.autograd.grad(out.sum(), xs[1])[0].numpy())
    for g in grads[1:]:
        np.testing.assert_allclose(g, grads[0], rtol=1e-12, atol=1e-12)
    assert b.enabled and b.strategy == "auto"
    with pytest.raises(ValueError, match="strategy must be one of"):
        b.strategy = "fastest"
