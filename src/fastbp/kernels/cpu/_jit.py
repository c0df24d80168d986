"""The decorators every CPU kernel is compiled with.

Two kinds of kernel:

- **entries** (:func:`entry`, :func:`parallel_entry`), the few functions the
  backends, the estimators and the tests call from Python (one epoch, the
  full-batch loss and gradient, prediction, ...): compiled as ``numba.njit``
  always compiles, with the wrappers that let Python call them, and cached on
  disk (``_config.JIT_OPTIONS``), from where a later process loads them
  without first reloading Numba's compiler registries (:class:`EntryCache`);
- **inner kernels** (:func:`kernel`, :func:`parallel_kernel`, :func:`inline`),
  called only by other kernels: compiled without those wrappers
  (``no_cpython_wrapper``, ``no_cfunc_wrapper``, as Numba compiles its own
  ``@overload`` implementations).  Each wrapper is one more function to
  generate, optimise and emit per kernel: leaving them out took the cold
  compile of the first fit from 23 to 18.4-18.9 s on the project machine.

An inner kernel has no Python entry point, so calling one from Python would
jump to a null address; :class:`InnerKernel` raises a ``TypeError`` instead.
With ``NUMBA_DISABLE_JIT=1`` all of these return the plain Python function.

Machine code for entries only
-----------------------------
Numba compiles a call tree bottom-up, one LLVM module ("code library") per
function, and *finalises* each library before its caller links it in:
optimises the whole module (with every callee's module linked into it) and
emits it as machine code.  The callers never run that machine code: they
link the callee's LLVM module and optimise and emit it again inside their
own.  Compiled that way, the training tree under
:func:`~fastbp.kernels.cpu.epoch.run_epoch` is optimised and emitted once per
level of calls above each kernel, and each parallel loop adds three levels of
its own (the loop body, its gufunc wrapper and the parallel launcher).

When ``_config.EMIT_ENTRIES_ONLY`` is on, every library made while compiling
a fastbp kernel is a :class:`LazyLibrary`: finalising one links its callees'
modules but neither optimises nor emits it; a library is optimised and
emitted only when machine code is asked of it (a function pointer, as for an
entry's Python wrapper).  Inner kernels are compiled without machine code at
all (Numba's ``no_compile``, as for its own internal functions), and so are
parallel loops' bodies (:class:`_LinkedBodies`); inner kernels are not cached
on disk, since the cached entries contain them.  Linking and
per-function optimisation are unchanged; the entry's module is optimised
once, with the whole tree linked into it.  The models trained are the same
(bit for bit on the digits data, float32 and float64, classifier and
regressor; the test suite holds the two ways of compiling to the parity
tolerance, and CI runs it both ways).  The cold first fit of a tiny
classifier takes 8.3 s this way against 13.0 s the ordinary way (medians of
four alternating pairs of fresh processes, 2-core AMD EPYC VM;
``benchmarks/README.md``).

This reaches into Numba's code-library classes (``numba.core.codegen``),
which are not public API.  :data:`ENTRIES_ONLY_AVAILABLE` says whether the
installed Numba has what it needs; if not, kernels compile the ordinary way
(the same results, a slower first fit), and a test fails so that the change
is seen.
"""

import copy
import hashlib
import pathlib
import warnings

import numba
from numba.core import caching, compiler
from numba.core.codegen import JITCodeLibrary
from numba.core.registry import CPUDispatcher
from numba.core.runtime import rtsys

from fastbp import _config


class InnerKernel(CPUDispatcher):
    """A Numba dispatcher for a kernel that only compiled code may call."""

    def __call__(self, *args, **kwargs):
        raise TypeError(
            f"{self.py_func.__module__}.{self.py_func.__qualname__} is an inner kernel, compiled "
            "without a Python entry point: call it from a compiled function (or call its .py_func)."
        )


class LazyLibrary(JITCodeLibrary):
    """A Numba code library optimised and emitted as machine code only when asked for it.

    Finalising it links the modules of its callees, checks it, and stops:
    a caller that links it optimises and emits the code inside its own
    module.  :meth:`get_pointer_to_function` (a Python entry point, a
    function pointer) optimises and emits it first.
    """

    _emitted = False

    def _optimize_final_module(self):
        """Deferred to :meth:`emit`: a library only linked is optimised by its caller."""

    def _finalize_final_module(self):
        # The checks of JITCodeLibrary._finalize_final_module, without adding the module
        # to the execution engine (which compiles it to machine code).
        self._finalize_dynamic_globals()
        self._verify_declare_only_symbols()
        self._finalized = True

    def emit(self):
        """Optimise this library's module and compile it to machine code (once)."""
        self._ensure_finalized()
        if not self._emitted:
            self._emitted = True
            JITCodeLibrary._optimize_final_module(self)
            JITCodeLibrary._finalize_final_module(self)

    def get_pointer_to_function(self, name):
        self.emit()
        return super().get_pointer_to_function(name)


#: Numba's code generators (by id), and their lazy twins: ``{id: (codegen, twin)}``.
_LAZY_TWINS = {}


def _lazy_codegen(codegen):
    """``codegen``'s twin (the same LLVM engine) that makes :class:`LazyLibrary` libraries."""
    if codegen._library_class is LazyLibrary:  # already a twin
        return codegen
    pair = _LAZY_TWINS.get(id(codegen))
    if pair is None:
        twin = copy.copy(codegen)
        twin._library_class = LazyLibrary
        pair = _LAZY_TWINS[id(codegen)] = (codegen, twin)
    return pair[1]


class _NoEntryPoint:
    """Stands for the machine code that a kernel compiled without any does not have."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"<no machine code: {self.name}>"

    def __call__(self, *args, **kwargs):
        raise TypeError(f"{self.name} was compiled without machine code: only compiled code that links it can run it")


class _LinkedBodies:
    """Target-context mixin: a function compiled on a copy of a kernel's context (a parallel
    loop's body, which Numba compiles as a function of its own) gets no machine code.

    Numba asks for the body's Python-callable wrapper (``get_executable``) and
    never calls it; the body is linked into the kernel through its gufunc
    wrapper and launcher.  The kernel's own context (``_fastbp_owner``) gets
    the ordinary executable.
    """

    _fastbp_owner = None

    def get_executable(self, library, fndesc, env):
        if self._fastbp_owner is self or not isinstance(library, LazyLibrary):
            return super().get_executable(library, fndesc, env)
        return _NoEntryPoint(fndesc.qualname)


#: Numba's target-context classes, and their :class:`_LinkedBodies` subclasses.
_LINKED_CLASSES = {}


def _linked_class(cls):
    if issubclass(cls, _LinkedBodies):
        return cls
    if cls not in _LINKED_CLASSES:
        _LINKED_CLASSES[cls] = type(cls.__name__, (_LinkedBodies, cls), {"__module__": __name__})
    return _LINKED_CLASSES[cls]


class EntryCompiler(compiler.Compiler):
    """Numba's compiler, with every library of the compilation a :class:`LazyLibrary`.

    The target context of one compilation is already a private copy
    (``compiler._make_subtarget``); its code generator is swapped for the
    lazy twin, which the parallel loops' libraries (body, gufunc wrapper,
    launcher) and Numba's internal helpers compiled for this kernel inherit,
    and its class for one whose copies give a parallel loop's body no machine
    code (:class:`_LinkedBodies`).
    """

    def __init__(self, typingctx, targetctx, library, args, return_type, flags, locals):
        super().__init__(typingctx, targetctx, library, args, return_type, flags, locals)
        ctx = self.state.targetctx
        ctx._internal_codegen = _lazy_codegen(ctx._internal_codegen)
        ctx.__class__ = _linked_class(type(ctx))
        ctx._fastbp_owner = ctx


class InnerCompiler(EntryCompiler):
    """Compiles an inner kernel to an LLVM module only: callers link it, nothing runs it."""

    def compile_extra(self, func):
        flags = self.state.flags.copy()
        flags.no_compile = True
        self.state.flags = flags
        cres = super().compile_extra(func)
        # The key must be a builtin function (Numba's dispatcher stores it as the overload's
        # entry point), new for each compilation; Python never calls it (InnerKernel.__call__).
        key = _NoEntryPoint(func.__qualname__).__sizeof__
        # What NativeLowering does for a compiled function, with the key in place of its
        # machine-code entry point: calls from other kernels find the implementation there.
        self.state.targetctx.insert_user_function(key, cres.fndesc, [cres.library])
        return cres._replace(entry_point=key)


def _has_all(needed):
    """Whether every ``(owner, names)`` pair of ``needed`` has all of its attributes ``names``."""
    return all(hasattr(owner, name) for owner, names in needed for name in names)


def _available():
    needed = [
        (JITCodeLibrary, ("_optimize_final_module", "_finalize_final_module", "_finalize_dynamic_globals",
                          "_verify_declare_only_symbols", "_ensure_finalized", "get_pointer_to_function")),
        (compiler.Flags, ("no_compile",)),
        (compiler.CompileResult, ("_replace",)),
    ]
    if not _has_all(needed):
        return False
    codegen = numba.core.registry.cpu_target.target_context.codegen()
    return getattr(codegen, "_library_class", None) is JITCodeLibrary


#: Whether the installed Numba supports compiling machine code for entries only.
ENTRIES_ONLY_AVAILABLE = _available()
_ENTRIES_ONLY = _config.EMIT_ENTRIES_ONLY and ENTRIES_ONLY_AVAILABLE


def _inner(options):
    if _ENTRIES_ONLY:  # no machine code, so nothing to cache: the cached entries contain it
        options = dict(options, cache=False, pipeline_class=InnerCompiler)

    compile_ = _with_cache(options, GuardedCache)

    def decorate(func):
        dispatcher = compile_(func)
        if isinstance(dispatcher, CPUDispatcher):  # not under NUMBA_DISABLE_JIT
            dispatcher.__class__ = InnerKernel
        return dispatcher

    return decorate


def _options_stamp():
    """A fingerprint of the compile options every kernel shares (``_config``): part of each
    cache key, so a kernel cached under other options (fast-math flags, error model,
    compilation mode) is compiled again instead of loaded."""
    options = {k: sorted(v) if isinstance(v, (set, frozenset)) else v for k, v in _config.JIT_OPTIONS.items()}
    text = repr(sorted(options.items())) + repr(_config.EMIT_ENTRIES_ONLY)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


#: The packages whose functions a cached entry holds compiled: the kernels, and the math
#: they inline (:func:`fastbp.kernels.compile_math`).
MATH_PACKAGES = ("kernels", "nn", "optim")


def sources_stamp(root=None):
    """A fingerprint of the source of every module in :data:`MATH_PACKAGES` (and ``_config``).

    Numba keys a cached function on its own file's modification time only,
    but an entry's machine code also holds every function it inlines from
    other files (the formulas of :mod:`fastbp.nn`, the kernels it calls): with
    this stamp in the key, a change to any of them compiles the entries again
    instead of loading code built from the old formulas.  Read once per
    process (about 30 small files).
    """
    root = pathlib.Path(__file__).parents[2] if root is None else pathlib.Path(root)
    digest = hashlib.sha256()
    files = [root / "_config.py"]
    for package in MATH_PACKAGES:
        files += sorted((root / package).rglob("*.py"))
    for path in files:
        try:
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
        except OSError:  # unreadable source: keyed on its name alone
            digest.update(path.name.encode())
    return digest.hexdigest()[:16]


_OPTIONS_STAMP = _options_stamp() + sources_stamp()
_warned = set()


def _warn_once(key, message):
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


class GuardedCache(caching.FunctionCache):
    """A kernel's disk cache that a broken cache file cannot break.

    Numba's cache raises when its index or data file is truncated or holds
    garbage (an interrupted write, a full disk, a copied cache directory).
    Here such a file counts as a miss: the kernel is compiled in memory, and
    saving it rewrites the index.  A cache that cannot be written (read-only,
    full) leaves the compiled kernel in memory only, with one warning.  The
    key of every entry also holds :func:`_options_stamp` and :func:`sources_stamp`.
    """

    def _index_key(self, sig, codegen):
        return (*super()._index_key(sig, codegen), _OPTIONS_STAMP)

    def _prepare(self, target_context):
        """What Numba needs before loading machine code (its registries refreshed)."""
        target_context.refresh()

    def load_overload(self, sig, target_context):
        """The cached compilation of ``sig``, or None (nothing cached, or a broken file)."""
        self._prepare(target_context)
        try:
            with self._guard_against_spurious_io_errors():
                return self._load_overload(sig, target_context)
        except Exception:  # noqa: BLE001 - any unreadable cache file is a miss
            return None

    def save_overload(self, sig, data):
        """Save ``data``; rewrite an unreadable index first; warn once if nothing can be saved."""
        try:
            try:
                self._cache_file._load_index()
            except FileNotFoundError:
                pass
            except Exception:  # noqa: BLE001 - a broken index: start it again
                self._impl.locator.ensure_cache_path()
                self._cache_file.flush()
            with self._guard_against_spurious_io_errors():
                self._save_overload(sig, data)
        except Exception as exc:  # noqa: BLE001 - the compiled kernel still runs from memory
            _warn_once(
                ("save", self._cache_path),
                f"fastbp could not save compiled kernels in {self._cache_path} ({exc}); they are kept "
                "in memory, so the next process compiles them again.",
            )


class EntryCache(GuardedCache):
    """An entry's disk cache, which loads a compiled kernel without Numba's registry refresh.

    Numba's cache refreshes the compiler's typing and lowering registries
    before every load (importing Numba's implementations of Python and NumPy
    and registering every ``@overload``): what compiling needs, while running
    loaded machine code needs only Numba's runtime (NRT) linked in.  Any
    compilation refreshes the registries itself (``compiler.CompilerBase``),
    so a kernel compiled later, fastbp's or its user's, still finds them.
    Skipping it takes the warm first fit of a tiny model from 115-133 to
    70-80 ms on the project machine (``benchmarks/README.md``).
    """

    def _prepare(self, target_context):
        rtsys.initialize(target_context)


def _fast_load_available():
    return _has_all([
        (caching.Cache, ("_load_overload", "_save_overload", "_guard_against_spurious_io_errors", "_index_key")),
        (caching.IndexDataCacheFile, ("_load_index", "flush")),
        (rtsys, ("initialize",)),
    ])


#: Whether the installed Numba has what :class:`GuardedCache` and :class:`EntryCache` use
#: (if not, kernels use Numba's own disk cache).
FAST_LOAD_AVAILABLE = _fast_load_available()


def _probe():
    """Stands for the kernels of this directory when looking for a cache directory."""


def _cache_directory_found():
    """Whether Numba finds a writable cache directory for the kernels of this package.

    Numba looks in ``NUMBA_CACHE_DIR``, then ``__pycache__`` beside the
    sources, then the user's cache directory; where none is writable (a
    read-only install with no writable home, as in some containers and
    serverless functions), kernels compile in memory in every process, and
    fastbp warns once, at import.
    """
    if not _config.CACHE:
        return True
    try:
        caching.FunctionCache(_probe)
    except Exception:  # noqa: BLE001 - Numba's RuntimeError "no locator available", or an OSError
        return False
    return True


#: Whether compiled kernels are kept on disk in this process.
CACHE_ON = _config.CACHE and _cache_directory_found()
if _config.CACHE and not CACHE_ON:
    warnings.warn(
        "fastbp found no writable directory for its compiled kernels (the package directory "
        "is read-only and no user cache directory is writable): it compiles them in memory, "
        "in every new process. Set NUMBA_CACHE_DIR to a writable directory to keep them.",
        RuntimeWarning,
        stacklevel=2,
    )


def _with_cache(options, cache_class):
    """``numba.njit(**options)``, its disk cache (if any) a ``cache_class``."""
    options = dict(options, cache=options.get("cache", False) and CACHE_ON)

    def decorate(func):
        dispatcher = numba.njit(**options)(func)
        if FAST_LOAD_AVAILABLE and type(getattr(dispatcher, "_cache", None)) is caching.FunctionCache:
            dispatcher._cache = cache_class(func)
        return dispatcher

    return decorate


def _entry(options):
    """``numba.njit(**options)`` with an :class:`EntryCache` for its disk cache."""
    return _with_cache(options, EntryCache)


_ENTRY_OPTIONS = dict(_config.JIT_OPTIONS, pipeline_class=EntryCompiler) if _ENTRIES_ONLY else _config.JIT_OPTIONS

#: A kernel called only by other kernels.
kernel = _inner(_config.INNER_JIT_OPTIONS)
#: A kernel with ``numba.prange`` loops, called only by other kernels.
parallel_kernel = _inner(dict(_config.INNER_JIT_OPTIONS, parallel=True))
#: A small function inlined into its callers' Numba IR (``inline="always"``).
inline = _inner(dict(_config.INNER_JIT_OPTIONS, inline="always"))
#: A kernel Python calls.
entry = _entry(_ENTRY_OPTIONS)
#: A kernel with ``numba.prange`` loops that Python calls.
parallel_entry = _entry(dict(_ENTRY_OPTIONS, parallel=True))
