"""`bench` is not an installed package: make the repository root importable even when pytest runs
as `.venv/bin/pytest` (where the working directory is not on sys.path)."""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.append(_ROOT)
