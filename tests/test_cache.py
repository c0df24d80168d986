"""Compiled kernels are cached on disk: a second process loads them instead of compiling."""

import json
import os
import subprocess
import sys

import pytest

SCRIPT = """
import json, warnings
import numpy as np
warnings.simplefilter("ignore")
from fastbp import BackpropClassifier
from fastbp.kernels.cpu import epoch as K
X = np.random.RandomState(0).rand(40, 3)
y = np.arange(40) % 2
BackpropClassifier(max_iter=1, hidden_layer_sizes=(3,)).fit(X, y)
stats = K.run_epoch.stats
print(json.dumps([sum(stats.cache_hits.values()), sum(stats.cache_misses.values())]))
"""


@pytest.mark.slow
def test_second_process_loads_the_cached_epoch(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))

    def run():
        out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    hits, misses = run()
    assert (hits, misses) == (0, 1)  # empty cache: compiled
    hits, misses = run()
    assert (hits, misses) == (1, 0)  # second process: loaded from disk
