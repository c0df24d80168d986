"""CUDA tests: run under Numba's simulator (NUMBA_ENABLE_CUDASIM=1) or on a real GPU.

Threads per block and tile sizes are patched small before the kernels are
first imported, so the tiny inputs still cross several blocks.  Without a GPU
and without the simulator the tests are skipped; CI runs them in a separate
process with the simulator (see .ci/run).
"""

import os
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parents[2]))  # tests/helpers.py

import fastbp._config as config

config.CUDA_THREADS = 8
config.CUDA_TILE = 4

SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"


def pytest_collection_modifyitems(config, items):
    from fastbp.backends.cuda import cuda_available

    if cuda_available():
        return
    skip = pytest.mark.skip(reason="no CUDA GPU; run with NUMBA_ENABLE_CUDASIM=1 to use the simulator")
    for item in items:
        if "tests/kernels/cuda" in str(item.fspath):
            item.add_marker(skip)
