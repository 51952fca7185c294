"""The node and edge kinds of the joined graph, and the typed data each node carries.

Every node of a :class:`cachetrace.graph.build.BuildGraph` has two attributes: ``kind`` (a
:class:`NodeKind`) and ``data`` (the frozen dataclass of that kind below). Every edge has
``kind`` (an :class:`EdgeKind`) plus the attributes listed with that kind. Node ids are
strings that stay readable in DOT, Mermaid and JSON:

====================  ==========================================  =============================
kind                  id                                          data
====================  ==========================================  =============================
step                  ``step4`` / ``linux/arm64/step4``           :class:`StepNode`
record                ``record/7``  (export index: digests repeat)  :class:`RecordNode`
content-key           ``content/12``                              :class:`RecordNode`
layer                 ``layer/sha256:…`` (the blob digest)        :class:`LayerNode`
output                ``output/linux/arm64`` (``output`` alone)   :class:`OutputNode`
====================  ==========================================  =============================

Edges (source -> target):

- ``input-of``  step -> step: the source's output ``output`` is input ``index`` of the target.
- ``produced``  step -> layer (the layer the step added on top of its inputs' chains) and
  record -> layer (the top layer of a record's result).
- ``parent``    layer -> layer: the lower layer of a chain (child -> parent).
- ``keyed-by``  step -> record / content-key, with ``join`` (:class:`Join`): how the record was
  tied to the step and how sure that is.
- ``link``      record -> record / content-key: input slot ``slot`` of the source record was
  fed by the target under ``selector`` (``""``: the whole input).
- ``exported``  step -> output: the platform result the exporter wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from cachetrace.model.build import Vertex
from cachetrace.model.llb import Op, OpKind, Step
from cachetrace.model.outputs import BinaryInfo

__all__ = [
    "DockerfileLocation",
    "EdgeKind",
    "Join",
    "JoinMethod",
    "LayerNode",
    "NodeKind",
    "OutputNode",
    "RecordNode",
    "SharedKey",
    "StepNode",
]


class NodeKind(str, Enum):
    STEP = "step"
    RECORD = "record"
    CONTENT_KEY = "content-key"
    LAYER = "layer"
    OUTPUT = "output"


class EdgeKind(str, Enum):
    INPUT_OF = "input-of"
    PRODUCED = "produced"
    PARENT = "parent"
    KEYED_BY = "keyed-by"
    LINK = "link"
    EXPORTED = "exported"


class JoinMethod(str, Enum):
    """How a cache record was tied to a step, most certain first."""

    EXACT_KEY = "exact-key"  # the recomputed exec CacheMap digest is the record's digest
    LAYER_BLOB = "layer-blob"  # the record's result layer chain is the step output's chain
    STRUCTURE = "structure"  # input links of joined records point at it (or it at them)


# The confidence each method gives when nothing else makes it ambiguous.
CONFIDENCE: dict[JoinMethod, float] = {
    JoinMethod.EXACT_KEY: 1.0,
    JoinMethod.LAYER_BLOB: 0.9,
    JoinMethod.STRUCTURE: 0.7,
}


@dataclass(frozen=True, slots=True)
class Join:
    """One keyed-by edge: ``record`` (export index) tied to output ``output`` of a step."""

    record: int
    method: JoinMethod
    confidence: float
    output: int = 0
    note: str = ""  # why the confidence is lower, or which evidence decided


@dataclass(frozen=True, slots=True)
class DockerfileLocation:
    """Where a step comes from: the file, its first line, and the text of all its lines."""

    filename: str
    line: int
    text: str
    end_line: int

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}"


@dataclass(frozen=True, slots=True)
class StepNode:
    """One provenance step of one platform."""

    id: str  # "stepN"
    platform: str  # the provenance key: "linux/arm64", or "" for a single-platform build
    step: Step
    op_platform: str  # the op's own platform ("linux/amd64"), "" when the op has none
    location: DockerfileLocation | None
    stage: str | None  # the FROM … AS name (or "stage-N") of the step's first line
    vertex: Vertex | None  # the status stream's vertex with the step's digest
    layer_chains: dict[int, tuple[str, ...]]  # output -> blob digests, base first
    exec_keys: dict[int, str]  # exec steps: output -> recomputed record digest
    key_error: str = ""  # why the exec key could not be recomputed

    @property
    def kind(self) -> OpKind:
        return self.step.op.kind

    @property
    def op(self) -> Op:
        return self.step.op

    @property
    def digest(self) -> str | None:
        """The LLB vertex digest."""
        return self.step.digest

    @property
    def label(self) -> str:
        return f"{self.platform}/{self.id}" if self.platform else self.id


@dataclass(frozen=True, slots=True)
class RecordNode:
    """A cache export record (kind ``record``) or a content-checksum key (``content-key``)."""

    index: int
    digest: str
    outputs: tuple[int, ...]  # the output indexes the joined steps gave it ("@N"), if known
    result_layers: tuple[str, ...]  # top blob of each result chain
    slots: int  # input slots


@dataclass(frozen=True, slots=True)
class LayerNode:
    blob: str
    media_type: str
    size: int | None
    diff_id: str
    content_digest: str
    files: int | None  # entries in the scan; None when the layer was not scanned
    binaries: tuple[BinaryInfo, ...]
    in_cache_export: bool


@dataclass(frozen=True, slots=True)
class OutputNode:
    """What an exporter wrote for one platform (``-o type=local``), or an image's layers."""

    platform: str
    exporter: str
    dest: str
    files: int | None
    binaries: tuple[BinaryInfo, ...]
    missing: str | None


@dataclass(frozen=True, slots=True)
class SharedKey:
    """Steps of several platforms that are one vertex or joined to one record.

    ``reaches_results`` names the platforms whose result this step's output reaches through
    shared steps only: with two or more, those platforms' results are one build output (the
    platform-collapse signal). A shared step followed by per-platform steps (a module download
    on the build platform before a per-target compile) reaches none.
    """

    key: str  # the vertex digest, or "record/<index>"
    steps: tuple[str, ...]  # node ids
    platforms: tuple[str, ...]
    op_kind: OpKind
    reaches_results: tuple[str, ...]
    via: str = "vertex"  # "vertex", or the weakest JoinMethod value that tied them to the record
