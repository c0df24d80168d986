"""The ``device`` parameter on a machine without a GPU (the CUDA kernels themselves: tests/kernels/cuda)."""

import subprocess
import sys

import numpy as np
import pytest

from fastbp import BackpropClassifier, BackpropRegressor
from fastbp.backends.cuda import cuda_available

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

X = np.random.RandomState(0).normal(size=(30, 4))
y = (X[:, 0] > 0).astype(int)


def test_import_does_not_load_cuda():
    code = "import sys, fastbp; fastbp.BackpropClassifier(); print('numba.cuda' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.skipif(cuda_available(), reason="a GPU (or the simulator) is present")
def test_cuda_without_gpu_raises_at_fit():
    model = BackpropClassifier(device="cuda", max_iter=2)  # constructing is fine
    with pytest.raises(RuntimeError, match="no usable CUDA GPU"):
        model.fit(X, y)
    assert not hasattr(model, "coefs_")  # nothing half-fitted


@pytest.mark.skipif(cuda_available(), reason="a GPU (or the simulator) is present")
def test_auto_falls_back_to_cpu():
    auto = BackpropRegressor(device="auto", max_iter=3, random_state=0).fit(X, X[:, 0])
    cpu = BackpropRegressor(device="cpu", max_iter=3, random_state=0).fit(X, X[:, 0])
    np.testing.assert_array_equal(auto.coefs_[0], cpu.coefs_[0])


def test_unknown_device_is_a_value_error():
    with pytest.raises(ValueError, match="device"):
        BackpropClassifier(device="tpu").fit(X, y)
