"""An image's final filesystem: a layer chain applied in order, whiteouts included.

Overlay semantics (OCI image spec, "Applying changesets"): a whiteout entry removes the path
and everything under it from the layers below; an opaque whiteout hides every lower child of
its directory; a non-directory replaces whatever was at its path (a directory's lower
contents go with it); a directory over a directory keeps the lower children. Whiteouts of a
layer apply only to lower layers, so each layer's whiteouts run before its other entries.
Lookups follow symlinks inside the image (absolute targets resolve from the image root), as
the kernel does when it execs a binary and loads its PT_INTERP.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from cachetrace.model.outputs import FileEntry, FileType
from cachetrace.outputs.paths import clean

MAX_SYMLINKS = 40  # Linux's MAXSYMLINKS
_WHITEOUTS = (FileType.WHITEOUT, FileType.OPAQUE_WHITEOUT)


@dataclass(slots=True)
class _Node:
    entry: FileEntry | None  # None: a directory no layer listed (implied by its children)
    children: dict[str, _Node] = field(default_factory=dict)

    @property
    def is_dir(self) -> bool:
        return self.entry is None or self.entry.type is FileType.DIR


def _parts(path: str) -> list[str]:
    cleaned = clean(path)
    return [] if cleaned == "/" else cleaned[1:].split("/")


class FinalFilesystem:
    """The merged view of a layer chain. Paths are absolute (``/usr/bin/go``)."""

    def __init__(self) -> None:
        self._root = _Node(FileEntry("/", FileType.DIR, mode=0o755))

    def apply(self, layer: Sequence[FileEntry]) -> None:
        """Apply one layer (entries in tar order) on top of what is there."""
        for e in layer:
            if e.type is FileType.WHITEOUT:
                parent = self._lookup_node(_parts(e.path)[:-1], follow=False)
                if parent is not None:
                    parent.children.pop(_parts(e.path)[-1] if e.path != "/" else "", None)
            elif e.type is FileType.OPAQUE_WHITEOUT:
                node = self._lookup_node(_parts(e.path), follow=False)
                if node is not None and node.is_dir:
                    node.children.clear()
        for e in layer:
            if e.type not in _WHITEOUTS:
                self._add(e)

    def _add(self, e: FileEntry) -> None:
        parts = _parts(e.path)
        if not parts:
            self._root.entry = e
            return
        node = self._root
        for name in parts[:-1]:
            child = node.children.get(name)
            if child is None or not child.is_dir:
                child = _Node(None)  # a parent no layer listed, or a file now a directory
                node.children[name] = child
            node = child
        old = node.children.get(parts[-1])
        if e.type is FileType.DIR and old is not None and old.is_dir:
            old.entry = e
        else:
            node.children[parts[-1]] = _Node(e)

    def _lookup_node(self, parts: list[str], *, follow: bool) -> _Node | None:
        """The node at ``parts`` taken literally (``follow=False``) or resolved like stat()."""
        if not follow:
            node = self._root
            for name in parts:
                nxt = node.children.get(name) if node.is_dir else None
                if nxt is None:
                    return None
                node = nxt
            return node
        resolved = self.resolve("/" + "/".join(parts))
        return None if resolved is None else self._lookup_node(_parts(resolved), follow=False)

    def _node_at(self, path: str, *, follow_symlinks: bool) -> _Node | None:
        resolved = self.resolve(path) if follow_symlinks else self._resolve_parent(path)
        return None if resolved is None else self._lookup_node(_parts(resolved), follow=False)

    def _resolve_parent(self, path: str) -> str | None:
        """Like lstat(): resolve every component but the last."""
        parts = [p for p in path.split("/") if p not in ("", ".")]
        if not parts or parts[-1] == "..":
            return self.resolve(path)
        parent = self.resolve("/" + "/".join(parts[:-1]))
        return None if parent is None else ("" if parent == "/" else parent) + "/" + parts[-1]

    def resolve(self, path: str) -> str | None:
        """The path with every symlink resolved inside the image, or None if it is missing.

        Dangling links, loops (more than MAX_SYMLINKS hops) and a file used as a directory
        all give None.
        """
        # ".." is resolved physically (after symlinks), as the kernel does, not lexically
        pending = [p for p in path.split("/") if p not in ("", ".")]
        pending.reverse()
        done: list[str] = []
        node = self._root
        hops = 0
        while pending:
            name = pending.pop()
            if name == "..":
                if done:
                    done.pop()
                node = self._walk(done)
                continue
            child = node.children.get(name) if node.is_dir else None
            if child is None:
                return None
            if child.entry is not None and child.entry.type is FileType.SYMLINK:
                hops += 1
                if hops > MAX_SYMLINKS:
                    return None
                target = child.entry.link_target
                if target.startswith("/"):
                    done = []
                    node = self._root
                pending.extend(reversed([p for p in target.split("/") if p not in ("", ".")]))
                continue
            done.append(name)
            node = child
        return "/" + "/".join(done)

    def _walk(self, parts: list[str]) -> _Node:
        node = self._lookup_node(parts, follow=False)
        assert node is not None  # only called on a prefix that was just walked
        return node

    def entry(self, path: str, *, follow_symlinks: bool = True) -> FileEntry | None:
        """The entry at ``path`` (the symlink's target's entry when following), or None."""
        node = self._node_at(path, follow_symlinks=follow_symlinks)
        if node is None:
            return None
        if node.entry is None:
            return FileEntry(clean(path), FileType.DIR, mode=0o755)
        return node.entry

    def exists(self, path: str, *, follow_symlinks: bool = True) -> bool:
        return self._node_at(path, follow_symlinks=follow_symlinks) is not None

    def paths(self) -> Iterator[str]:
        """Every path in the image, depth first, parents before children."""
        stack: list[tuple[str, _Node]] = [("/", self._root)]
        while stack:
            path, node = stack.pop()
            yield path
            for name in sorted(node.children, reverse=True):
                stack.append((("" if path == "/" else path) + "/" + name, node.children[name]))

    def __len__(self) -> int:
        return sum(1 for _ in self.paths())


def apply_layers(layers: Iterable[Sequence[FileEntry]]) -> FinalFilesystem:
    """The final filesystem of an image whose layers are given bottom first."""
    fs = FinalFilesystem()
    for layer in layers:
        fs.apply(layer)
    return fs
