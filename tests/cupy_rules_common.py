"""What the two files of CuPy's ported tests (test_cupy_rules.py and
test_cupy_rules_streams.py) share: the CuPy double as ``cupy``, a fresh emulated device for
every test, and an array comparison that reads device arrays back."""
import numpy as np
import pytest

from cuda_emu import cupy_double

cupy = cupy_double.module
cuda = cupy.cuda


@pytest.fixture(autouse=True)
def double(monkeypatch, emulator_lib):
    """A fresh emulated device: the default stream current, no capture, an empty pool."""
    import cuda_emu
    cuda_emu.install(monkeypatch, emulator_lib)


def assert_array_equal(a, b):
    np.testing.assert_array_equal(*(x.get() if isinstance(x, cupy.ndarray) else x
                                    for x in (a, b)))
