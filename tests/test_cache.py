"""Compiled kernels are cached on disk: a second process loads them instead of compiling;
the first process compiles each kernel once."""

import json
import os
import subprocess
import sys

import pytest

SCRIPT = """
import json, warnings
import numpy as np
warnings.simplefilter("ignore")
from numba.core import event
from fastbp import BackpropClassifier
from fastbp.kernels.cpu import epoch as K
compiles = event.RecordingListener()
event.register("numba:compile", compiles)
X = np.random.RandomState(0).rand(40, 3)
y = np.arange(40) % 2
BackpropClassifier(max_iter=1, hidden_layer_sizes=(3,)).fit(X, y)
default_fit = sorted({e.data["dispatcher"].py_func.__qualname__ for _, e in compiles.buffer})
stats = K.run_epoch.stats
hits, misses = sum(stats.cache_hits.values()), sum(stats.cache_misses.values())
BackpropClassifier(max_iter=1, hidden_layer_sizes=(3, 2), batch_norm=True, batch_size=8).fit(X, y).predict(X)
modules = sorted({e.data["dispatcher"].py_func.__module__ for _, e in compiles.buffer})
kernels = [
    (e.data["dispatcher"].py_func.__module__ + "." + e.data["dispatcher"].py_func.__qualname__, str(e.data["args"]))
    for _, e in compiles.buffer
    if e.is_start and e.data["dispatcher"].py_func.__module__.startswith("fastbp")
]
print(json.dumps([hits, misses, kernels, modules, default_fit]))
"""


@pytest.mark.slow
def test_second_process_loads_the_cached_epoch(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))

    def run():
        out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    hits, misses, kernels, modules, default_fit = run()
    assert (hits, misses) == (0, 1)  # empty cache: compiled
    names = [name for name, _ in kernels]
    assert "fastbp.kernels.cpu.epoch.thread_block" in names and "fastbp.kernels.cpu.norm.stage_pass" in names
    # One float64 dense fit, then one with batch norm: no kernel compiled again for the same
    # types, as a parallel loop's unsigned index (uint64 where the caller typed int64) or a
    # literal constant argument would make Numba do.
    signatures = [(name, args.replace("uint64", "int64")) for name, args in kernels]
    assert len(set(signatures)) == len(signatures), [s[0] for s in signatures if signatures.count(s) > 1]
    assert not [k for k in kernels if "Literal" in k[1]]
    # Nothing formats strings at run time (an array slice assignment compiles Numba's shape-error
    # message: 2.5 s of the first predict, measured).
    assert not [m for m in modules if "unicode" in m], modules
    # The extensions' kernels are compiled for the fit that uses one (batch norm), not for
    # the default fit before it.
    extensions = {"apply_dropout", "unscale", "clip_factor", "bias_activate_extra", "multiply_grad_extra"}
    assert not extensions & set(default_fit), default_fit
    assert "fastbp.kernels.cpu.dense.apply_dropout" in names
    hits, misses, kernels, modules, default_fit = run()
    assert (hits, misses) == (1, 0)  # second process: loaded from disk
    assert kernels == []  # nothing compiled


def test_inner_kernels_refuse_python_calls():
    # Compiled without a Python wrapper: a call from Python must raise, not jump to a null address.
    import numpy as np

    from fastbp.kernels.cpu import optim

    with pytest.raises(TypeError, match="constants is an inner kernel"):
        optim.constants(np.ones(3, dtype=np.float32), (0.5, 2.0))
    # Called from compiled code, the same kernel works.
    import numba

    @numba.njit
    def constants(theta):
        return optim.constants(theta, (0.5, 2.0))

    got = constants(np.ones(3, dtype=np.float32))
    assert got.dtype == np.float32 and got.tolist() == [0.5, 2.0]
