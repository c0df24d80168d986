"""Compiled kernels: ``cpu`` (numba.njit) and ``cuda`` (numba.cuda) twins at mirrored paths.

Both families read the math of :mod:`fastbp.nn` and :mod:`fastbp.optim.steps`
through :func:`compile_math`, so a formula, or a ladder choosing a formula by
its integer code, is written once for both devices.
"""

import types


def compile_math(module, wrap, target):
    """Every function of the math module ``module`` compiled with ``wrap``, as a module.

    Each function is rebuilt over a copy of ``module``'s globals in which the
    module's functions are replaced by their compiled twins, so a function of
    the module that calls another (a ladder calling the formula its code
    selects) calls the twin: ``wrap`` compiles the whole call tree for one
    target.  The plain functions stay as they are (NumPy references and
    host-side code call them directly).

    Parameters
    ----------
    module : module
        A module of plain Python scalar functions (:mod:`fastbp.nn.losses`, ...).
    wrap : callable
        The target's decorator: ``numba.njit(inline="always")`` for the CPU
        (:data:`fastbp.kernels.cpu._jit.inline`), ``numba.cuda.jit(device=True)``
        for the GPU.
    target : str
        The target's name (``"cpu"``, ``"cuda"``), for the returned module's name.

    Returns
    -------
    module
        A module named ``<module>[<target>]`` holding the compiled functions
        under their own names, and the module's other globals (codes,
        constants) as they are.  Numba resolves ``twin.name`` in a kernel at
        compile time, as for any module.
    """
    namespace = dict(vars(module))
    twin = types.ModuleType(f"{module.__name__}[{target}]", module.__doc__)
    for name, value in vars(module).items():
        if isinstance(value, types.FunctionType) and value.__module__ == module.__name__:
            func = types.FunctionType(value.__code__, namespace, name, value.__defaults__, value.__closure__)
            func.__qualname__ = value.__qualname__
            func.__doc__ = value.__doc__
            func.__module__ = value.__module__
            namespace[name] = wrap(func)
    for name, value in namespace.items():
        if not name.startswith("__"):
            setattr(twin, name, value)
    return twin
