"""What the exporters wrote to the client: ``-o type=local`` directories, scanned per platform.

A multi-platform local export puts each platform in a subdirectory named ``os_arch[_variant]``;
a single-platform one writes the root filesystem straight into ``dest``. Each is streamed as a
tar through the same scanner as layers, so files and binaries look the same either way.
"""

from __future__ import annotations

import os
import tarfile
import threading
from pathlib import Path

from cachetrace.errors import CachetraceError
from cachetrace.model.capture import ExportedOutput
from cachetrace.model.outputs import LayerScan
from cachetrace.record.argv import OutputSpec


def scan_directory(root: Path) -> LayerScan:
    """Scan a directory tree as if it were an uncompressed layer (no disk copy)."""
    from cachetrace.outputs.layer import scan_layer

    read_fd, write_fd = os.pipe()
    errors: list[BaseException] = []

    def produce() -> None:
        try:
            with os.fdopen(write_fd, "wb") as w, tarfile.open(fileobj=w, mode="w|") as tar:
                for dirpath, dirnames, filenames in os.walk(root):
                    dirnames.sort()
                    for name in sorted(dirnames) + sorted(filenames):
                        full = Path(dirpath) / name
                        arc = str(full.relative_to(root))
                        tar.add(full, arcname=arc, recursive=False)
        except BrokenPipeError:
            pass
        except BaseException as exc:  # reported below, after the reader is done
            errors.append(exc)

    t = threading.Thread(target=produce, name="cachetrace-tar", daemon=True)
    t.start()
    with os.fdopen(read_fd, "rb") as r:
        scan = scan_layer(r, media_type="application/vnd.oci.image.layer.v1.tar", name=str(root))
    t.join()
    if errors:
        raise CachetraceError(f"cannot read exported output {root}: {errors[0]}")
    return scan


def platform_dir_name(platform: str) -> str:
    return platform.replace("/", "_")


def scan_exports(
    outputs: tuple[OutputSpec, ...], platforms: tuple[str, ...]
) -> tuple[ExportedOutput, ...]:
    found: list[ExportedOutput] = []
    for spec in outputs:
        if spec.type != "local" or not spec.dest:
            if spec.type in ("tar", "oci", "docker") and spec.dest and spec.dest != "-":
                found.append(
                    ExportedOutput(
                        spec.type, None, spec.dest, None, f"{spec.type} exports are not scanned yet"
                    )
                )
            continue
        dest = Path(spec.dest)
        targets: list[tuple[str | None, Path]] = []
        if len(platforms) > 1:
            for p in platforms:
                targets.append((p, dest / platform_dir_name(p)))
        else:
            targets.append((platforms[0] if platforms else None, dest))
        for platform, path in targets:
            if not path.is_dir():
                found.append(
                    ExportedOutput(
                        "local", platform, str(path), None, "the exporter wrote nothing there"
                    )
                )
                continue
            try:
                found.append(ExportedOutput("local", platform, str(path), scan_directory(path)))
            except CachetraceError as exc:
                found.append(ExportedOutput("local", platform, str(path), None, str(exc)))
    return tuple(found)
