"""Handler resolution and deterministic Lambda code bundles.

Two jobs, both done without touching AWS:

``resolve_handler(root, "src/list.main", src=None, construct=...)``
    turns an SST-style handler string into the folder to zip, the handler's file and the
    ``Handler`` value Lambda wants, and checks -- by parsing the file with :mod:`ast`, never by
    importing it -- that the file defines that name.  Every bad input is a
    :class:`~sstdirect.errors.ConfigError` naming the construct, the key and the fix.

``build_bundle(code_dir, cache_dir=..., runtime=..., architecture=..., entry=None)``
    zips a folder deterministically (same files -> byte-identical zip -> same ``CodeSha256``),
    installs a ``requirements.txt`` beside the code for the Lambda platform, and caches everything
    under ``cache_dir``.  With ``entry`` (the handler's ``.py`` file) only the ``.py`` files reachable
    from it by static import tracing go in (plus every non-``.py`` file), so editing one handler
    changes that function's zip alone; see :func:`build_bundle` for the rules and the fallback.

    ``cache_dir/index.json``            (code folder, entry) -> fingerprint (path, size, mtime of
                                        every file of the folder) -> zip; a match returns the zip
                                        without reading any file
    ``cache_dir/zips/<hex>.zip``        one zip per content hash (``<hex>.json`` holds its sha/size)
    ``cache_dir/deps/<key>/site/``      ``pip install --target`` output, once per (requirements
                                        content, runtime, architecture); ``manifest.json`` beside it

The modules, one job each: :mod:`.handler` (handler strings), :mod:`.sources` (which files of a
folder are bundled, ``include=``), :mod:`.listing` (what a scan yields, once per :class:`Batch`),
:mod:`.imports` and :mod:`.trace` (static import tracing of an ``entry`` bundle), :mod:`.deps`
(``requirements.txt``), :mod:`.checks` (Lambda's limits, missing imports), :mod:`.zipper` (the
deterministic zip), :mod:`.index` (``index.json``), :mod:`.files` (entries, counters, hashing) and
:mod:`.build` (:func:`build_bundle`, which ties them together).

Every cache write is a temp file (or folder) renamed into place, so concurrent deploys never see a
half-written file; the worst a race costs is duplicated work.

A fingerprint recorded while a file was younger than :data:`RACY_WINDOW_NS` is not trusted next time
(the file's contents are hashed again): a file edited twice within one file-system timestamp tick
would otherwise keep a stale zip (git's "racily clean" problem).  Correctness never depends on the
fingerprint -- only speed does.

:data:`stats` counts what happened (``fingerprint_hit``, ``zip_reused``, ``zip_built``,
``deps_installed``, ``deps_reused``, ``files_hashed``, ``trace_fallback``) so tests can assert cache
behaviour without timing.
"""

from .build import RACY_WINDOW_NS, build_bundle
from .checks import MAX_UNZIPPED_BYTES, MAX_ZIPPED_BYTES
from .deps import run_pip
from .files import Bundle, stats
from .handler import HandlerLocation, resolve_handler
from .listing import Batch
from .sources import check_include
from .trace import LAMBDA_RUNTIME_MODULES, RUNTIME_HELPERS

__all__ = [
    "LAMBDA_RUNTIME_MODULES",
    "MAX_UNZIPPED_BYTES",
    "MAX_ZIPPED_BYTES",
    "RACY_WINDOW_NS",
    "RUNTIME_HELPERS",
    "Batch",
    "Bundle",
    "HandlerLocation",
    "build_bundle",
    "check_include",
    "resolve_handler",
    "run_pip",
    "stats",
]
