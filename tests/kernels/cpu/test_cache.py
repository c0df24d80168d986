"""Compiled kernels are cached on disk: a second process loads them instead of compiling;
the first process compiles each kernel once."""

import functools
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from fastbp._config import TEST_RTOL

SCRIPT = """
import json, warnings
import numpy as np
warnings.simplefilter("ignore")
from numba.core import codegen, event
emitted = []  # the code libraries made into machine code (compiled, or loaded from the cache)
_emit = codegen.JITCodeLibrary._finalize_specific
def _record(library):
    emitted.append(library.name)
    _emit(library)
codegen.JITCodeLibrary._finalize_specific = _record
from numba.core import base
refreshes = []  # Numba's refreshes of its compiler registries
_refresh = base.BaseContext.refresh
def _count(ctx):
    refreshes.append(type(ctx).__name__)
    _refresh(ctx)
base.BaseContext.refresh = _count
from fastbp import BackpropClassifier
from fastbp.kernels.cpu import _jit, epoch as K
compiles = event.RecordingListener()
event.register("numba:compile", compiles)
X = np.random.RandomState(0).rand(40, 3)
y = np.arange(40) % 2
model = BackpropClassifier(max_iter=3, hidden_layer_sizes=(3,), random_state=0).fit(X, y)
default_emitted = sorted(set(emitted))
coefs = [c.tolist() for c in model.coefs_]
default_fit = sorted({e.data["dispatcher"].py_func.__qualname__ for _, e in compiles.buffer})
stats = K.run_epoch.stats
hits, misses = sum(stats.cache_hits.values()), sum(stats.cache_misses.values())
BackpropClassifier(max_iter=1, hidden_layer_sizes=(3, 2), batch_norm=True, batch_size=8).fit(X, y).predict(X)
fits_refreshed = len(refreshes)
modules = sorted({e.data["dispatcher"].py_func.__module__ for _, e in compiles.buffer})
kernels = [
    (e.data["dispatcher"].py_func.__module__ + "." + e.data["dispatcher"].py_func.__qualname__, str(e.data["args"]))
    for _, e in compiles.buffer
    if e.is_start and e.data["dispatcher"].py_func.__module__.startswith("fastbp")
]
# A user's own Numba function compiled after fastbp's kernels, using some of the internal
# functions those compiled (np.dot, np.zeros, a parallel reduction): unaffected.
import numba
@numba.njit(parallel=True)
def user(a, b):
    c = np.dot(a, b) + np.zeros(b.shape[1])
    total = 0.0
    for i in numba.prange(c.shape[0]):
        total += c[i].sum()
    return c, total
a, b = np.arange(12.0).reshape(3, 4), np.arange(8.0).reshape(4, 2)
c, total = user(a, b)
user_ok = bool(np.array_equal(c, a @ b) and total == (a @ b).sum())
user_library = type(user.overloads[user.signatures[0]].library).__name__
print(json.dumps([hits, misses, kernels, modules, default_fit, default_emitted, coefs, _jit._ENTRIES_ONLY,
                  user_ok, user_library, fits_refreshed]))
"""


def _inner_kernel_names():
    import importlib
    import pkgutil

    import fastbp.kernels.cpu as cpu
    from fastbp.kernels.cpu._jit import InnerKernel

    names = set()
    for info in pkgutil.iter_modules(cpu.__path__):
        module = importlib.import_module(f"fastbp.kernels.cpu.{info.name}")
        names |= {f.py_func.__qualname__ for f in vars(module).values() if isinstance(f, InnerKernel)}
    return names


def _run(cache_dir, **env):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), **env)
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_second_process_loads_the_cached_epoch(tmp_path):
    run = functools.partial(_run, tmp_path)
    hits, misses, kernels, modules, default_fit, emitted, cold_coefs, entries_only, user_ok, user_library, refreshed = run()
    assert (hits, misses) == (0, 1)  # empty cache: compiled
    assert refreshed > 0  # compiling loads Numba's registries
    names = [name for name, _ in kernels]
    assert "fastbp.kernels.cpu.epoch.thread_block" in names and "fastbp.kernels.cpu.norm.backward_pass" in names
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
    # Machine code for the entries only: no inner kernel's library was emitted on its own
    # (each used to be, once per level of calls above it); with FASTBP_EMIT_ENTRIES_ONLY=0
    # (CI runs this test that way too), Numba's ordinary compilation.
    from fastbp.kernels.cpu._jit import ENTRIES_ONLY_AVAILABLE

    assert entries_only == (os.environ.get("FASTBP_EMIT_ENTRIES_ONLY", "1") != "0")
    assert ENTRIES_ONLY_AVAILABLE
    if entries_only:
        inner = _inner_kernel_names()
        assert {"thread_block", "forward", "backward", "update"} <= inner
        assert "run_epoch" in emitted and not inner & set(emitted), sorted(inner & set(emitted))
        # nor a parallel loop's body, which Numba compiles as a function of its own
        assert not [name for name in emitted if "parfor_gufunc" in name], emitted
    # and Numba compiles its users' own functions the ordinary way, with the right result.
    assert user_ok and user_library == "JITCodeLibrary"
    hits, misses, kernels, modules, default_fit, emitted, warm_coefs, _, user_ok, _, refreshed = run()
    assert (hits, misses) == (1, 0)  # second process: loaded from disk
    assert kernels == []  # nothing compiled
    assert warm_coefs == cold_coefs  # the same model, bit for bit
    # Loading needs none of the compiler's registries (EntryCache): the two fits and the
    # prediction never refreshed them, and the user's function compiled after them (the
    # compilation refreshes them itself) still works.
    assert refreshed == 0
    assert user_ok


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_ordinary_compilation_gives_the_same_model(tmp_path):
    # FASTBP_EMIT_ENTRIES_ONLY=0 (the way out, should a Numba release break the entries-only
    # compilation): every kernel compiled and emitted the ordinary way, and the same fit.
    from fastbp import BackpropClassifier
    from fastbp.kernels.cpu import _jit

    ordinary = _run(tmp_path, FASTBP_EMIT_ENTRIES_ONLY="0")
    assert not ordinary[7]
    assert {"thread_block", "forward", "backward"} <= set(ordinary[5])  # emitted one by one
    # The same fit as the script's, here, compiled (or loaded) entries-only.
    assert _jit._ENTRIES_ONLY or os.environ.get("FASTBP_EMIT_ENTRIES_ONLY") == "0"
    X = np.random.RandomState(0).rand(40, 3)
    model = BackpropClassifier(max_iter=3, hidden_layer_sizes=(3,), random_state=0).fit(X, np.arange(40) % 2)
    for a, b in zip(model.coefs_, ordinary[6], strict=True):
        np.testing.assert_allclose(a, b, rtol=TEST_RTOL["float64"], atol=1e-12)


def test_entries_only_compilation_is_available():
    # The installed Numba has the internals that compiling machine code for entries only
    # uses; if a release removes them, kernels fall back to the ordinary (slower) compilation
    # and this test says so.
    from fastbp.kernels.cpu import _jit, epoch

    assert _jit.ENTRIES_ONLY_AVAILABLE
    assert _jit.FAST_LOAD_AVAILABLE  # and what loading cached kernels without a registry refresh uses
    assert isinstance(epoch.run_epoch._cache, _jit.EntryCache)
    if os.environ.get("FASTBP_EMIT_ENTRIES_ONLY", "1") != "0":
        assert _jit._ENTRIES_ONLY


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


def test_cache_keys_change_with_any_math_source(tmp_path):
    """An entry's machine code holds the formulas it inlines from other files: the key of every
    cached entry holds a fingerprint of all of them, so changing one formula recompiles."""
    import shutil

    from fastbp.kernels.cpu import _jit

    root = tmp_path / "fastbp"
    src = pathlib.Path(_jit.__file__).parents[2]
    shutil.copytree(src, root, ignore=shutil.ignore_patterns("__pycache__"))
    before = _jit.sources_stamp(root)
    assert before == _jit.sources_stamp(src)  # the same sources, the same stamp
    for relative in ("nn/losses.py", "optim/steps.py", "kernels/cpu/optim.py", "_config.py"):
        path = root / relative
        original = path.read_text()
        path.write_text(original + "\n# changed\n")
        assert _jit.sources_stamp(root) != before, relative
        path.write_text(original)
    assert _jit.sources_stamp(root) == before
    (root / "estimators" / "_base.py").write_text("# not compiled into any kernel\n")
    assert _jit.sources_stamp(root) == before
    assert _jit._OPTIONS_STAMP.endswith(_jit.sources_stamp())
