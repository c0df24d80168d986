"""The benchmark harness runs on a clean checkout (PyTorch optional) and reports what it says it does.

Run as ``python -m benchmarks.compare`` from the repository root, the way its
README runs it, on a tiny slice of W1 and W2; the timings themselves are not
checked here (performance targets live in the benchmarks, not in unit tests).
"""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.join(os.path.dirname(__file__), os.pardir)


def run_module(*args):
    out = subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, check=True, capture_output=True, text=True, timeout=600
    )
    return out.stdout


@pytest.mark.slow
def test_compare_prints_every_runner_and_ratio():
    out = run_module("benchmarks.compare", "--workloads", "W1", "W2", "--scale", "0.02", "--repeats", "1")
    for name in ("W1", "W2"):
        section = out.split(f"\n{name}: ", 1)[1].split("\n\n", 1)[0]
        runners = ["fastbp", "sklearn", "matmul"]
        try:
            import torch  # noqa: F401

            runners += ["torch", "torch_mm"]
        except ImportError:
            assert "torch" not in section
        for runner in runners:
            row = re.search(rf"^  {runner} +([0-9.]+) +([0-9.]+) +([0-9.]+) +([0-9.]+)$", section, re.M)
            assert row, f"{runner} row missing from {name}:\n{section}"
            median, lo, hi, gflops = map(float, row.groups())
            assert 0 < lo <= median <= hi and gflops > 0
        assert re.search(r"fastbp speed-up: vs sklearn [0-9.]+x", section)
        assert re.search(r"fastbp / matmul-only time [0-9.]+", section)
        prediction = re.search(r"products alone \(NumPy\) ([0-9.]+) ms: fastbp at ([0-9.]+)x", section)
        assert prediction, section
        assert re.search(r"peak traced memory of a 1-epoch fit: fastbp [0-9.]+ MiB, sklearn [0-9.]+ MiB", section)


@pytest.mark.slow
def test_first_fit_reports_cold_warm_and_sklearn():
    out = run_module("benchmarks.first_fit", "--repeats", "1")
    times = {}
    for key in ("fastbp cold", "fastbp warm", "sklearn"):
        row = re.search(rf"^  {key} +([0-9.]+)s", out, re.M)
        assert row, out
        times[key] = float(row.group(1))
    assert all(t > 0 for t in times.values())
    # The warm process loads what the cold one compiled into the same cache folder.
    assert times["fastbp warm"] < times["fastbp cold"]
    assert re.search(r"warm fastbp / sklearn: [0-9.]+x in process", out)


@pytest.mark.slow
def test_latency_reports_every_runner_for_one_and_a_thousand_rows():
    out = run_module("benchmarks.latency", "--repeats", "1", "--calls", "20")
    header = re.search(r"^ +rows +(.*?) +sklearn / each$", out, re.M)
    assert header, out
    runners = header.group(1).split()
    assert {"fastbp", "sklearn"} <= set(runners)
    for rows in (1, 1000):
        row = re.search(rf"^ +{rows}((?: +[0-9.]+){{{len(runners)}}}) +fastbp ([0-9.]+)x", out, re.M)
        assert row, out
        assert all(float(v) > 0 for v in row.group(1).split())


@pytest.mark.slow
def test_frozen_reports_each_setting():
    out = run_module("benchmarks.frozen", "--repeats", "1", "--epochs", "1", "--scale", "0.02")
    for k in (0, 1, 2):
        row = re.search(rf"frozen_layers={k}: +([0-9.]+) ms +\(([0-9.]+)x of none frozen", out)
        assert row and float(row.group(1)) > 0, out


@pytest.mark.slow
def test_ab_reports_both_trees_and_their_ratio():
    src = os.path.join(ROOT, "src")
    out = run_module("benchmarks.ab", src, src, "--repeats", "1", "--parts", "steps")
    assert len(re.findall(r"^A \{'adam step us': [0-9.]+", out, re.M)) == 1
    assert len(re.findall(r"^B \{'adam step us': [0-9.]+", out, re.M)) == 1
    for solver in ("adam", "sgd", "rmsprop"):
        row = re.search(rf"^{solver} step us +A +([0-9.]+) +B +([0-9.]+) +B/A +([0-9.]+)$", out, re.M)
        assert row, out
        a, b, ratio = map(float, row.groups())
        assert a > 0 and b > 0 and ratio == pytest.approx(b / a, abs=2e-3)
