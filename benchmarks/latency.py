"""Prediction latency: fastbp's ``predict_proba``, onnxruntime on the exported model, and
scikit-learn's ``MLPClassifier``, on one row and on 1,000 rows.

The same network shape for all three (20 features, hidden (64,), 3 classes, float32
input), trained briefly on synthetic data; each call is timed in a loop after a
warm-up, the median of ``--repeats`` loops is reported, in microseconds per call,
with the ratio of scikit-learn's time to each.  onnxruntime runs on one intra-op
thread, fastbp and scikit-learn with the machine's thread settings.

Usage: ``python -m benchmarks.latency [--repeats 7] [--calls 3000]`` (needs ``fastbp[onnx]``
for the onnxruntime column; without it the column is left out).
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.neural_network import MLPClassifier

from fastbp import BackpropClassifier


def per_call(fn, calls, repeats):
    """Median over ``repeats`` loops of the seconds per call of ``fn``, after a warm-up."""
    for _ in range(max(calls // 10, 10)):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - start) / calls)
    return float(np.median(times))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--calls", type=int, default=3000, help="calls per timed loop (one row; 1,000 rows: a tenth)")
    args = parser.parse_args(argv)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(5000, 20)).astype(np.float32)
    y = (X[:, :3] @ rng.normal(size=(3, 3))).argmax(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast = BackpropClassifier(hidden_layer_sizes=(64,), max_iter=5, random_state=0).fit(X, y)
        sk = MLPClassifier(hidden_layer_sizes=(64,), max_iter=5, random_state=0).fit(X, y)
    runners = {"fastbp": fast.predict_proba, "sklearn": sk.predict_proba}
    try:
        import onnxruntime
        import skl2onnx

        import fastbp.onnx  # noqa: F401

        onx = skl2onnx.to_onnx(fast, X[:1], options={"zipmap": False})
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        runtime = onnxruntime.InferenceSession(onx.SerializeToString(), options, providers=["CPUExecutionProvider"])
        name = runtime.get_inputs()[0].name
        runners["onnxruntime"] = lambda A: runtime.run(None, {name: A})[1]
    except ImportError:
        pass
    print(f"predict_proba latency, us per call (median of {args.repeats} loops), 20 features, hidden (64,), float32:")
    print(f"  {'rows':>6s}" + "".join(f"{k:>14s}" for k in runners) + "   sklearn / each")
    for n, calls in ((1, args.calls), (1000, max(args.calls // 10, 10))):
        A = np.ascontiguousarray(X[:n])
        t = {k: per_call(lambda f=f: f(A), calls, args.repeats) for k, f in runners.items()}
        ratios = ", ".join(f"{k} {t['sklearn'] / v:.2f}x" for k, v in t.items() if k != "sklearn")
        print(f"  {n:6d}" + "".join(f"{1e6 * v:14.1f}" for v in t.values()) + f"   {ratios}")


if __name__ == "__main__":
    main()
