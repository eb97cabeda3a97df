"""photonic.jit: the inputs handed to the compiled loops."""

from __future__ import annotations

import numpy as np

from photonic.jit import readonly


def test_readonly_is_a_view_that_leaves_the_callers_array_writable() -> None:
    a = np.arange(6.0).reshape(2, 3)
    out = readonly(a, np.float64)
    assert np.shares_memory(out, a)
    assert not out.flags.writeable
    assert a.flags.writeable  # the caller's array is not frozen with it
    a[0, 0] = 7.0
    assert out[0, 0] == 7.0


def test_readonly_copies_what_the_loops_cannot_read_in_place() -> None:
    a = np.arange(12.0).reshape(3, 4)
    for given, dtype in ((a.T, np.float64), (a, np.complex128), (a[:, ::2], np.float64)):
        out = readonly(given, dtype)
        assert out.flags.c_contiguous and not out.flags.writeable
        assert out.dtype == dtype
        assert not np.shares_memory(out, a)
        np.testing.assert_array_equal(out, given)
