"""OCI facts shared by every part of the model: platforms and content descriptors."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Platform:
    """An OCI platform (``linux/arm64/v8``). Field names follow the OCI image spec."""

    os: str
    architecture: str
    variant: str = ""
    os_version: str = ""
    os_features: tuple[str, ...] = ()

    @property
    def spec(self) -> str:
        """The ``os/arch[/variant]`` form that buildx and BuildKit use as a key."""
        parts = [self.os, self.architecture]
        if self.variant:
            parts.append(self.variant)
        return "/".join(parts)

    @classmethod
    def parse(cls, spec: str) -> Platform:
        """Parse ``os/arch[/variant]``; raises ValueError on anything else."""
        parts = spec.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(f"not a platform: {spec!r}")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else "")


@dataclass(frozen=True, slots=True)
class Descriptor:
    """An OCI content descriptor: a blob in a content store, by digest."""

    media_type: str
    digest: str
    size: int
    annotations: dict[str, str] = field(default_factory=dict)
