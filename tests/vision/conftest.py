"""The vision tests never reach the network: downloads fail as they would offline."""
import pytest


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    from cadenza.vision.datasets import utils as dutils

    def refuse(url, timeout=None):
        raise OSError("network is unreachable")
    monkeypatch.setattr(dutils.urllib.request, "urlopen", refuse)
