"""The backend interface: what the estimators may rely on, and the layering rules."""

import ast
import pathlib

import numpy as np
import pytest

import fastbp
from fastbp import optim as O
from fastbp.backends import Backend, Trainer, kernel_data, make_backend, require_device
from fastbp.backends.cuda import cuda_available
from fastbp.nn.layout import Layout
from fastbp.nn.spec import network_spec

SRC = pathlib.Path(fastbp.__file__).parent


def spec(**kw):
    return network_spec(Layout([3, 4, 2]), "relu", "softmax", "log_loss", np.float64, **kw)


def test_the_cpu_backend_and_its_trainer_implement_the_interface():
    backend = make_backend(spec())
    assert isinstance(backend, Backend)
    rng = np.random.RandomState(0)
    data = kernel_data(rng.normal(size=(10, 3)), np.eye(2)[np.arange(10) % 2], None, np.float64)
    theta = rng.normal(size=spec().layout.size)
    opt = O.OptimizerState("adam", theta.size, np.float64, 0.01)
    with backend.limits():
        trainer = backend.trainer(data, theta, opt, 4)
        assert isinstance(trainer, Trainer)
        before = trainer.snapshot()
        loss = trainer.epoch(np.arange(10, dtype=np.int64), (np.zeros(0, np.uint32), np.zeros(1, np.int64)),
                             O.make_hyper(np.float64, learning_rate=0.01))
        assert np.isfinite(loss)
        moved = trainer.predict(data)
        trainer.restore(before)
        np.testing.assert_array_equal(trainer.finish(), before[0])
    out, finite = backend.predict(data, theta, return_finite=True)
    assert finite and out.shape == (10, 2) and not np.allclose(out, moved)


def test_clipping_the_spec_does_not_announce_is_an_error():
    backend = make_backend(spec())
    with pytest.raises(RuntimeError, match="clipping"):
        backend.training_net(O.make_hyper(np.float64, max_grad_norm=1.0))
    clipping = make_backend(spec(clipping=True))
    assert clipping.training_net(O.make_hyper(np.float64, max_grad_norm=1.0)).extensions is not None


@pytest.mark.skipif(cuda_available(), reason="a GPU (or the simulator) is usable here")
def test_cuda_without_a_gpu():
    with pytest.raises(RuntimeError, match="CUDA"):
        require_device("cuda")
    with pytest.raises(RuntimeError, match="CUDA"):
        make_backend(spec(), device="cuda")
    assert type(make_backend(spec(), device="cuda", training=False)).__name__ == "CPUBackend"
    assert type(make_backend(spec(), device="auto")).__name__ == "CPUBackend"
    require_device("cpu")
    require_device("auto")


def _imports(path):
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


@pytest.mark.parametrize("path", sorted((SRC / "estimators").glob("*.py")), ids=lambda p: p.name)
def test_estimators_import_no_kernel_and_no_concrete_backend(path):
    bad = [n for n in _imports(path) if n.startswith(("fastbp.kernels", "fastbp.backends.cpu", "fastbp.backends.cuda"))
           or n.endswith(("CPUBackend", "CUDABackend"))]
    assert not bad, bad


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_no_module_learns_what_a_fit_uses_from_a_tuple_length(path):
    text = path.read_text()
    assert "len(net)" not in text and "EXTENDED_NET" not in text
