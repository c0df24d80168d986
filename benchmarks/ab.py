"""A/B of two fastbp source trees, in alternating fresh processes.

For each repeat, each tree runs in its own new Python process (``PYTHONPATH``
set to the tree's ``src``), A then B:

- ``cold``: the first fit of a tiny classifier on an empty Numba cache
  (import included), then a cold batch-norm + Huber + GELU regressor's
  fit and prediction (the extensions' kernels);
- ``epochs``: per-epoch milliseconds of W1, W2 (0.4 of its rows) and W4 (0.4)
  with Adam and SGD, float32, warm (median of 5 three-epoch fits);
- ``steps``: microseconds per mini-batch of a step-bound network (8 inputs,
  hidden (600, 600), batch 16, 1,024 rows: 370k parameters updated per step)
  for Adam, SGD and RMSprop, warm.

Prints every process's figures and the medians per tree.  Compare the code
before and after a change with a worktree of the old commit::

    git worktree add ../before HEAD~1
    python -m benchmarks.ab ../before/src src --repeats 3

Usage: ``python -m benchmarks.ab A_SRC B_SRC [--repeats 3] [--parts cold epochs steps]``
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

COLD = """
import json, time, warnings
t0 = time.perf_counter()
warnings.simplefilter("ignore")
import numpy as np
from fastbp import BackpropClassifier, BackpropRegressor
BackpropClassifier(max_iter=1, hidden_layer_sizes=(3,)).fit(np.random.rand(40, 3), np.arange(40) % 2)
t1 = time.perf_counter()
BackpropRegressor(max_iter=1, hidden_layer_sizes=(3,), batch_norm=True, loss="huber", activation="gelu").fit(
    np.random.rand(40, 3), np.random.rand(40)).predict(np.random.rand(5, 3))
print(json.dumps({"first fit s": t1 - t0, "extensions fit+predict s": time.perf_counter() - t1}))
"""

#: What the warm parts share: the imports, and the median seconds of one fit of ``epochs``
#: epochs after a first, untimed fit (compilation or the cache load).
WARM = """
import json, time, warnings
import numpy as np
warnings.simplefilter("ignore")
from fastbp import BackpropClassifier, BackpropRegressor


def fit_seconds(cls, X, y, epochs, **params):
    make = lambda n: cls(max_iter=n, tol=0, n_iter_no_change=10**6, random_state=0, **params)
    make(1).fit(X, y)
    times = []
    for _ in range(5):
        model = make(epochs)
        t = time.perf_counter()
        model.fit(X, y)
        times.append(time.perf_counter() - t)
    return float(np.median(times))
"""

EPOCHS = WARM + """
from benchmarks.workloads import WORKLOADS
out = {}
for name, scale in (("W1", 1.0), ("W2", 0.4), ("W4", 0.4)):
    w = WORKLOADS[name]
    X, y = w.data(np.float32, scale=scale)
    cls = BackpropClassifier if w.task == "classification" else BackpropRegressor
    for solver in ("adam", "sgd"):
        seconds = fit_seconds(cls, X, y, 3, hidden_layer_sizes=w.hidden, batch_size=w.batch_size, solver=solver)
        out[f"{name} {solver} ms"] = seconds / 3 * 1e3
print(json.dumps(out))
"""

STEPS = WARM + """
rng = np.random.RandomState(0)
X = rng.standard_normal((1024, 8)).astype(np.float32)
y = X.sum(1)
out = {}
for solver in ("adam", "sgd", "rmsprop"):
    seconds = fit_seconds(BackpropRegressor, X, y, 2, hidden_layer_sizes=(600, 600), batch_size=16, solver=solver,
                          learning_rate_init=1e-4)
    out[f"{solver} step us"] = seconds / (2 * 64) * 1e6
print(json.dumps(out))
"""

PARTS = {"cold": COLD, "epochs": EPOCHS, "steps": STEPS}


def run(src, source, cold):
    """The JSON figures of one fresh process running ``source`` against the tree ``src``."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.abspath(src), root]))
    with tempfile.TemporaryDirectory() as cache:
        if cold:
            env["NUMBA_CACHE_DIR"] = cache
        out = subprocess.run([sys.executable, "-c", source], env=env, cwd=root, check=True,
                             capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", help="source tree A (the folder holding fastbp/)")
    parser.add_argument("b", help="source tree B")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=list(PARTS))
    args = parser.parse_args(argv)
    results = {"A": {}, "B": {}}
    for part in args.parts:
        for _ in range(args.repeats):
            for label, src in (("A", args.a), ("B", args.b)):
                figures = run(src, PARTS[part], cold=part == "cold")
                print(label, {k: round(v, 3) for k, v in figures.items()}, flush=True)
                for key, value in figures.items():
                    results[label].setdefault(key, []).append(value)
    print(f"\nmedians of {args.repeats} (A: {args.a}, B: {args.b})")
    for key in results["A"]:
        a, b = np.median(results["A"][key]), np.median(results["B"][key])
        print(f"{key:28s} A {a:10.3f}  B {b:10.3f}  B/A {b / a:6.3f}")


if __name__ == "__main__":
    main()
