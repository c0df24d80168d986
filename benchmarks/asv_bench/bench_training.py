"""asv benchmarks: fit and predict per workload and dtype, peak memory, compile time.

``setup`` builds the data and warms the JIT so ``time_*`` and ``peakmem_*``
measure training, not compilation; compile time has its own benchmark, run in
a fresh process with an empty cache.  The workloads are W1-W4 of
``benchmarks/workloads.py`` shrunk (``SCALE``) so a quick run stays short; the
full-size comparison is ``python -m benchmarks.compare``.
"""

import os
import subprocess
import sys
import tempfile
import warnings

import numpy as np

from fastbp import BackpropClassifier, BackpropRegressor

# asv imports this file standalone; make the shared workload definitions importable.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))
from benchmarks.workloads import WORKLOADS  # noqa: E402

SCALE = {"W1": 1.0, "W2": 0.2, "W3": 0.05, "W4": 0.2}


def _model(w, epochs):
    cls = BackpropClassifier if w.task == "classification" else BackpropRegressor
    return cls(hidden_layer_sizes=w.hidden, batch_size=w.batch_size, max_iter=epochs, random_state=0,
               tol=0.0, n_iter_no_change=10**9)


class Training:
    params = (list(WORKLOADS), ["float32", "float64"])
    param_names = ["workload", "dtype"]
    timeout = 300

    def setup(self, workload, dtype):
        warnings.simplefilter("ignore")
        self.w = WORKLOADS[workload]
        self.X, self.y = self.w.data(np.dtype(dtype), scale=SCALE[workload])
        self.fitted = _model(self.w, 1).fit(self.X, self.y)  # warms the training kernels
        self.fitted.predict(self.X[:10])  # and the prediction kernel (compiled apart from training)

    def time_fit(self, workload, dtype):
        _model(self.w, 1).fit(self.X, self.y)

    def peakmem_fit(self, workload, dtype):
        _model(self.w, 1).fit(self.X, self.y)

    def time_predict(self, workload, dtype):
        self.fitted.predict(self.X)


class CompileTime:
    """Cold (empty cache) and warm (second process) time to the first fitted model."""

    timeout = 300
    number = 1
    repeat = 1

    SCRIPT = (
        "import numpy as np, warnings; warnings.simplefilter('ignore');"
        "from fastbp import BackpropClassifier;"
        "BackpropClassifier(max_iter=1, hidden_layer_sizes=(3,)).fit(np.random.rand(40, 3), np.arange(40) % 2)"
    )

    def setup(self):
        self.cache = tempfile.mkdtemp()

    def _run(self):
        env = dict(os.environ, NUMBA_CACHE_DIR=self.cache)
        subprocess.run([sys.executable, "-c", self.SCRIPT], env=env, check=True)

    def time_cold_then_warm(self):
        self._run()
        self._run()

    def time_cold(self):
        self._run()


class TrainingCUDA:
    """fit on the GPU (skipped where there is none); CUDA work is synchronised by fit's return."""

    params = (list(WORKLOADS),)
    param_names = ["workload"]
    timeout = 300

    def setup(self, workload):
        from fastbp.backends.cuda import cuda_available

        if not cuda_available() or os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
            raise NotImplementedError("no CUDA GPU")
        warnings.simplefilter("ignore")
        self.w = WORKLOADS[workload]
        self.X, self.y = self.w.data(np.float32, scale=SCALE[workload])
        _model(self.w, 1).set_params(device="cuda").fit(self.X, self.y)

    def time_fit(self, workload):
        _model(self.w, 1).set_params(device="cuda").fit(self.X, self.y)
