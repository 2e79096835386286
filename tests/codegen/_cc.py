"""Tests that check generated kernels themselves need a C compiler; without one (CC unset and
no ``cc``) they are skipped, while everything else still runs on the interpreter fallback."""
import pytest

from cadenza.codegen import cache


def require_cc() -> None:
    if cache.compiler() is None:
        pytest.skip("no C compiler: generated kernels are not built here")
