"""One error hierarchy for cachetrace.

Every error the core raises on purpose is a ``CachetraceError``; only ``cachetrace.cli``
turns them into a one-line message and an exit code. Foreign errors (grpc, OSError,
zlib, orjson) are translated at the boundary that meets them.

::

    CachetraceError
    ├── UsageError              bad command-line input or options that do not fit together
    ├── EngineError             a builder/daemon that cannot be resolved or reached
    │   └── EndpointError       an address, builder name or docker context that does not resolve
    ├── ProtocolError           BuildKit answered, but not as expected (grpc status, bad bytes)
    │   └── NotAvailableError   the builder lacks a feature (history, provenance, a blob)
    ├── CaptureFormatError      a capture file that is corrupt, of an unknown version, or invalid
    ├── OutputFormatError       a layer or binary that cannot be read (``outputs``)
    │   ├── LayerError          a corrupt, truncated or unsupported layer blob
    │   └── BinaryFormatError   a corrupt ELF/PE/Mach-O or Go build info blob
    ├── RecordError             the ``record`` job could not do its work
    ├── GraphError              a capture that cannot be joined into a graph
    └── ReportError             a report that cannot be produced or written
"""

from __future__ import annotations


class CachetraceError(Exception):
    """Base of every error cachetrace raises on purpose. ``str(e)`` is one line for users."""

    exit_code: int = 2


class UsageError(CachetraceError):
    """Bad command-line input."""


class EngineError(CachetraceError):
    """A builder that cannot be reached."""

    exit_code = 3


class EndpointError(EngineError):
    """An address, builder name or docker context that does not resolve."""


class ProtocolError(CachetraceError):
    """BuildKit answered, but not as expected."""

    exit_code = 3


class NotAvailableError(ProtocolError):
    """The builder lacks a feature or a piece of data (history, provenance, a blob)."""


class CaptureFormatError(CachetraceError):
    """A capture file that is corrupt, of an unknown schema version, or invalid."""


class OutputFormatError(CachetraceError):
    """A layer or binary that cannot be read."""


class LayerError(OutputFormatError):
    """A corrupt, truncated or unsupported layer blob."""


class BinaryFormatError(OutputFormatError):
    """A corrupt executable or Go build info blob."""


class RecordError(CachetraceError):
    """The ``record`` job could not do its work."""


class GraphError(CachetraceError):
    """A capture that cannot be joined into a graph."""


class ReportError(CachetraceError):
    """A report that cannot be produced or written."""
