"""CUDA twins of the CPU kernels (``numba.cuda``), at mirrored paths and names.

Kernels carry the suffix ``_kernel``; device functions wrap the same scalar
math as the CPU side (:mod:`fastbp.nn`).  Importing this package imports
``numba.cuda``: only :mod:`fastbp.backends.cuda` does, and only when a fit
asks for ``device="cuda"``.  Block sizes come from :mod:`fastbp._config` when
the modules are first imported.
"""
