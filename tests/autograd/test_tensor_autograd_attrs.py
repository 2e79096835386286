"""Tensor autograd attributes against torch: output_nr, the removed volatile flag."""
import warnings

import pytest
import torch as T

import cadenza as C


def test_output_nr():
    def program(lib):
        x = lib.ones(3, requires_grad=True)
        y = lib.ones(4, 2)
        return (x.output_nr, (x * 2).output_nr, [t.output_nr for t in x.split(1)],
                [t.output_nr for t in (x * 1).chunk(3)], [t.output_nr for t in y.unbind(1)],
                [t.output_nr for t in y.split(2)])
    assert program(C) == program(T)


def test_volatile_removed():
    for lib in (T, C):
        x = lib.ones(2)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            assert x.volatile is False
        assert "volatile was removed" in str(w[0].message)
        with pytest.warns(UserWarning, match="volatile was removed and now has no effect"):
            x.volatile = True
        assert not x.requires_grad
