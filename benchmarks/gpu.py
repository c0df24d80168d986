"""GPU figures in one command: the CUDA tests on the real device, then the benchmark table.

Runs ``pytest tests/kernels/cuda`` without the simulator, then times, per workload
(W1-W4, float32, data already on the device): fastbp ``device="cuda"``,
fastbp on the CPU, and a plain PyTorch CUDA loop with the same architecture,
Adam and batch size (TF32 off), and prints seconds per epoch, the ratios, the
achieved GFLOP/s and its fraction of the GPU's FP32 peak.

Usage (on a GPU machine, from the repository root)::

    PYTHONPATH=src python -m benchmarks.gpu [--workloads W1 W2] [--peak-tflops 67]
"""

import argparse
import subprocess
import sys
import time
import warnings

import numpy as np

from benchmarks.workloads import WORKLOADS

#: FP32 (non-tensor-core) peaks in TFLOP/s, by device-name fragment.
FP32_PEAK = {"H100 SXM": 67.0, "H100 PCIe": 51.0, "H100": 67.0, "H200": 67.0, "A100": 19.5, "L4": 30.3, "T4": 8.1}
EPOCHS = {"W1": 20, "W2": 3, "W3": 2, "W4": 3}


def _fit_time(make, X, y, epochs, repeats):
    times = []
    for _ in range(repeats):
        model = make(epochs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            model.fit(X, y)
        times.append((time.perf_counter() - start) / epochs)
    return float(np.median(times))


def _torch_time(w, X, y, epochs, repeats):
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device("cuda")
    units = w.layer_units
    layers = []
    for i, (a, b) in enumerate(zip(units[:-1], units[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(units) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    Xt = torch.from_numpy(X).to(dev)
    if w.task == "classification":
        yt, loss_fn = torch.from_numpy(np.asarray(y, np.int64)).to(dev), torch.nn.CrossEntropyLoss()
    else:
        yt, loss_fn = torch.from_numpy(np.asarray(y, np.float32)).reshape(-1, 1).to(dev), torch.nn.MSELoss()
    n, bs = X.shape[0], w.batch_size
    times = []
    for _ in range(repeats + 1):
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(epochs):
            perm = torch.randperm(n, device=dev)
            for s in range(0, n, bs):
                idx = perm[s : s + bs]
                opt.zero_grad(set_to_none=True)
                loss_fn(model(Xt[idx]), yt[idx]).backward()
                opt.step()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - start) / epochs)
    return float(np.median(times[1:]))  # the first repeat warms up


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peak-tflops", type=float, default=None)
    parser.add_argument("--skip-tests", action="store_true")
    args = parser.parse_args(argv)

    from numba import cuda

    if not cuda.is_available():
        sys.exit("no CUDA GPU: nothing to measure")
    name = cuda.get_current_device().name
    name = name.decode() if isinstance(name, bytes) else name
    peak = args.peak_tflops or next((v for k, v in FP32_PEAK.items() if k in name), None)
    print(f"GPU: {name}; FP32 peak used: {peak} TFLOP/s; date: {time.strftime('%Y-%m-%d')}")
    if not args.skip_tests:
        rc = subprocess.call([sys.executable, "-m", "pytest", "-q", "tests/kernels/cuda", "tests/estimators/test_device.py"])
        print(f"CUDA tests on the real device: {'passed' if rc == 0 else 'FAILED'} (exit {rc})")

    from fastbp import BackpropClassifier, BackpropRegressor

    try:
        import torch  # noqa: F401

        has_torch = torch.cuda.is_available()
    except ImportError:
        has_torch = False
    print(f"\n{'workload':9s}{'cuda s/ep':>11s}{'cpu s/ep':>10s}{'torch s/ep':>11s}{'vs torch':>9s}{'vs cpu':>8s}{'GFLOP/s':>9s}{'% peak':>8s}")
    for key in args.workloads:
        w = WORKLOADS[key]
        X, y = w.data(np.float32)
        cls = BackpropClassifier if w.task == "classification" else BackpropRegressor

        def make(device):
            return lambda epochs: cls(hidden_layer_sizes=w.hidden, batch_size=w.batch_size, max_iter=epochs,
                                      tol=0.0, n_iter_no_change=10**9, random_state=0, device=device)

        make("cuda")(1).fit(X[: 2 * w.batch_size], y[: 2 * w.batch_size])  # compile
        t_gpu = _fit_time(make("cuda"), X, y, EPOCHS[key], args.repeats)
        t_cpu = _fit_time(make("cpu"), X, y, max(1, EPOCHS[key] // 2), 1)
        t_torch = _torch_time(w, X, y, EPOCHS[key], args.repeats) if has_torch else float("nan")
        gflops = w.flops_per_epoch(X.shape[0]) / t_gpu / 1e9
        frac = 100 * gflops / (peak * 1e3) if peak else float("nan")
        print(f"{key:9s}{t_gpu:11.4f}{t_cpu:10.4f}{t_torch:11.4f}{t_torch / t_gpu:9.2f}{t_cpu / t_gpu:8.2f}{gflops:9.1f}{frac:8.2f}")


if __name__ == "__main__":
    main()
