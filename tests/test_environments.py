"""Hostile environments: fastbp imports, fits and gives the same model wherever its disk cache
cannot be used (read-only install, NUMBA_CACHE_DIR pointing at a file, broken cache files,
two processes compiling into one empty cache at once).

Each case runs in a fresh interpreter (Numba chooses its cache directory at import) and
compares the model it fits with the same fit made in this process.
"""

import glob
import json
import os
import shutil
import stat
import subprocess
import sys

import numpy as np
import pytest

import fastbp

pytestmark = pytest.mark.slow

FIT = """
import json, warnings
import numpy as np
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import fastbp
    from fastbp import BackpropClassifier
    from fastbp.kernels.cpu import epoch as K
    X = np.random.RandomState(0).rand(40, 3)
    y = np.arange(40) % 3
    model = BackpropClassifier(max_iter=3, hidden_layer_sizes=(4,), random_state=0).fit(X, y)
    proba = model.predict_proba(X)
stats = K.run_epoch.stats
print(json.dumps({
    "file": fastbp.__file__,
    "coefs": [c.tolist() for c in model.coefs_],
    "proba": proba.tolist(),
    "warnings": [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)],
    "hits": sum(stats.cache_hits.values()),
    "misses": sum(stats.cache_misses.values()),
}))
"""


def _reference():
    X = np.random.RandomState(0).rand(40, 3)
    y = np.arange(40) % 3
    model = fastbp.BackpropClassifier(max_iter=3, hidden_layer_sizes=(4,), random_state=0).fit(X, y)
    return [c.tolist() for c in model.coefs_], model.predict_proba(X).tolist()


def _env(**changes):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(changes)
    return env


def _start(env):
    return subprocess.Popen([sys.executable, "-c", FIT], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _result(proc):
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def _run(env):
    return _result(_start(env))


def _same_model(result):
    coefs, proba = _reference()
    assert result["coefs"] == coefs
    assert result["proba"] == proba


@pytest.fixture
def unwritable_home(tmp_path):
    """A HOME (and XDG cache directory) under a regular file: no directory can be made there,
    whatever the user's privileges."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    return str(blocker / "home")


def _read_only_copy(tmp_path):
    """fastbp copied under ``tmp_path``, with no writable ``__pycache__`` anywhere: each is a
    regular file (effective even for root, who ignores permission bits) and every file and
    directory is made read-only."""
    root = tmp_path / "site"
    shutil.copytree(os.path.dirname(fastbp.__file__), root / "fastbp",
                    ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    for directory, _, _ in os.walk(root):
        open(os.path.join(directory, "__pycache__"), "w").close()
    for directory, dirs, files in os.walk(root, topdown=False):
        for name in files:
            os.chmod(os.path.join(directory, name), stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        os.chmod(directory, stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    return root


def _make_writable(root):
    for directory, _, files in os.walk(root):
        os.chmod(directory, stat.S_IRWXU)
        for name in files:
            os.chmod(os.path.join(directory, name), stat.S_IRUSR | stat.S_IWUSR)


def test_read_only_install_with_no_writable_cache_compiles_in_memory(tmp_path, unwritable_home):
    root = _read_only_copy(tmp_path)
    try:
        result = _run(_env(PYTHONPATH=str(root), HOME=unwritable_home, XDG_CACHE_HOME=unwritable_home))
    finally:
        _make_writable(root)
    assert result["file"].startswith(str(root))
    _same_model(result)
    assert result["hits"] == 0
    messages = [m for m in result["warnings"] if "NUMBA_CACHE_DIR" in m]
    assert len(messages) == 1, result["warnings"]
    assert "compiles them in memory" in messages[0]


def test_numba_cache_dir_pointing_at_a_file(tmp_path):
    target = tmp_path / "a-file"
    target.write_text("not a directory")
    result = _run(_env(NUMBA_CACHE_DIR=str(target)))
    _same_model(result)
    assert target.read_text() == "not a directory"


def test_concurrent_compiles_then_broken_cache_files(tmp_path):
    """Two processes compile into one empty cache at once; a third loads what they left; after
    every index is truncated and every data file overwritten with garbage, a fourth compiles
    again and the cache is rewritten for a fifth."""
    cache = tmp_path / "cache"
    env = _env(NUMBA_CACHE_DIR=str(cache))
    first, second = _start(env), _start(env)
    for result in (_result(first), _result(second)):
        _same_model(result)

    loaded = _run(env)
    _same_model(loaded)
    assert loaded["hits"] > 0 and loaded["misses"] == 0

    indexes = glob.glob(str(cache / "**" / "*.nbi"), recursive=True)
    data = glob.glob(str(cache / "**" / "*.nbc"), recursive=True)
    assert indexes and data
    for path in indexes:
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) // 2)
    for path in data:
        with open(path, "wb") as f:
            f.write(b"garbage" * 10)

    rebuilt = _run(env)
    _same_model(rebuilt)
    assert rebuilt["hits"] == 0 and rebuilt["misses"] > 0
    assert not [m for m in rebuilt["warnings"] if "could not save" in m]

    again = _run(env)
    _same_model(again)
    assert again["hits"] > 0 and again["misses"] == 0


def test_garbage_data_file_under_an_intact_index(tmp_path):
    cache = tmp_path / "cache"
    env = _env(NUMBA_CACHE_DIR=str(cache))
    _same_model(_run(env))
    data = glob.glob(str(cache / "**" / "*.nbc"), recursive=True)
    for path in data:
        with open(path, "r+b") as f:
            f.truncate(10)
    result = _run(env)
    _same_model(result)
    assert result["hits"] == 0
