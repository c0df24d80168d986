"""Time to the first result: ``import`` plus the first fit of a tiny model, in fresh processes.

Three cases, each in its own new Python process, alternated repeat by repeat:

- ``fastbp cold``: an empty Numba cache (``NUMBA_CACHE_DIR`` set to a new
  folder), so every kernel the fit needs is compiled;
- ``fastbp warm``: the cache the cold run left (what a second process pays);
- ``sklearn``: the same fit with ``MLPClassifier``.

Each child measures from its first line to the end of ``fit`` (the import
included, the interpreter's own start-up and teardown not); the parent also
records the whole process's wall time.  Prints medians and the warm ratio to
scikit-learn.

The children run without ``PYTHONDONTWRITEBYTECODE``: an installed package
has its bytecode compiled by pip, but an editable checkout run with that
variable set compiles fastbp's 29 modules from source in every process
(18 ms measured), while scikit-learn, installed, does not.

Usage: ``python -m benchmarks.first_fit [--repeats 5]``
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

FIT = (
    "import time; _t0 = time.perf_counter()\n"
    "import warnings; warnings.simplefilter('ignore')\n"
    "import numpy as np\n"
    "from {module} import {cls} as Model\n"
    "Model(max_iter=1, hidden_layer_sizes=(3,)).fit(np.random.rand(40, 3), np.arange(40) % 2)\n"
    "print(time.perf_counter() - _t0)\n"
)
SOURCES = {
    "fastbp": FIT.format(module="fastbp", cls="BackpropClassifier"),
    "sklearn": FIT.format(module="sklearn.neural_network", cls="MLPClassifier"),
}


def run_child(source, cache_dir):
    """``(in-process seconds, process wall seconds)`` of one fresh process running ``source``."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", source], env=env, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - start
    return float(out.stdout.strip().splitlines()[-1]), wall


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    times = {"fastbp cold": [], "fastbp warm": [], "sklearn": []}
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as cache:
            times["fastbp cold"].append(run_child(SOURCES["fastbp"], cache))
            times["fastbp warm"].append(run_child(SOURCES["fastbp"], cache))
            times["sklearn"].append(run_child(SOURCES["sklearn"], cache))
    med = {k: np.median(np.array(v), axis=0) for k, v in times.items()}
    print(f"import + first tiny fit, fresh processes, median of {args.repeats}:")
    print(f"  {'':12s}{'in process':>12s}{'min':>8s}{'max':>8s}{'process wall':>14s}")
    for key, v in times.items():
        inside = [t for t, _ in v]
        print(f"  {key:12s}{med[key][0]:11.2f}s{min(inside):7.2f}s{max(inside):7.2f}s{med[key][1]:13.2f}s")
    print(f"  warm fastbp / sklearn: {med['fastbp warm'][0] / med['sklearn'][0]:.2f}x in process, "
          f"{med['fastbp warm'][1] / med['sklearn'][1]:.2f}x process wall")
    return times


if __name__ == "__main__":
    main()
