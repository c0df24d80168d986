"""The decorators every CPU kernel is compiled with.

Two kinds of kernel:

- **entries** (:func:`entry`, :func:`parallel_entry`), the few functions the
  backends, the estimators and the tests call from Python (one epoch, the
  full-batch loss and gradient, prediction, ...): compiled as ``numba.njit``
  always compiles, with the wrappers that let Python call them;
- **inner kernels** (:func:`kernel`, :func:`parallel_kernel`, :func:`inline`),
  called only by other kernels: compiled without those wrappers
  (``no_cpython_wrapper``, ``no_cfunc_wrapper``, as Numba compiles its own
  ``@overload`` implementations).  Each wrapper is one more function to
  generate, optimise and emit per kernel: leaving them out took the cold
  compile of the first fit from 23 to 18.4-18.9 s on the project machine.

An inner kernel has no Python entry point, so calling one from Python would
jump to a null address; :class:`InnerKernel` raises a ``TypeError`` instead.
Every kernel is cached on disk (``_config.JIT_OPTIONS``).  With
``NUMBA_DISABLE_JIT=1`` all of these return the plain Python function.
"""

import numba
from numba.core.registry import CPUDispatcher

from fastbp import _config


class InnerKernel(CPUDispatcher):
    """A Numba dispatcher for a kernel that only compiled code may call."""

    def __call__(self, *args, **kwargs):
        raise TypeError(
            f"{self.py_func.__module__}.{self.py_func.__qualname__} is an inner kernel, compiled "
            "without a Python entry point: call it from a compiled function (or call its .py_func)."
        )


def _inner(options):
    def decorate(func):
        dispatcher = numba.njit(**options)(func)
        if isinstance(dispatcher, CPUDispatcher):  # not under NUMBA_DISABLE_JIT
            dispatcher.__class__ = InnerKernel
        return dispatcher

    return decorate


#: A kernel called only by other kernels.
kernel = _inner(_config.INNER_JIT_OPTIONS)
#: A kernel with ``numba.prange`` loops, called only by other kernels.
parallel_kernel = _inner(dict(_config.INNER_JIT_OPTIONS, parallel=True))
#: A small function inlined into its callers' Numba IR (``inline="always"``).
inline = _inner(dict(_config.INNER_JIT_OPTIONS, inline="always"))
#: A kernel Python calls.
entry = numba.njit(**_config.JIT_OPTIONS)
#: A kernel with ``numba.prange`` loops that Python calls.
parallel_entry = numba.njit(parallel=True, **_config.JIT_OPTIONS)
