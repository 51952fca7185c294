"""``python -m cachetrace``."""

from __future__ import annotations

from cachetrace.cli import main

raise SystemExit(main())
