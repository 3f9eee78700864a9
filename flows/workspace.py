"""The working folder of one run: stage flows hand each other files, not in-memory frames.

Passing paths keeps Prefect from serialising or hashing large frames, and lets an
engineer re-run a single stage from the UI against the files an earlier stage left.
"""

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def new(cls, out: str | Path, cycle: str, run_id: str | None = None) -> "Workspace":
        run_id = run_id or uuid.uuid4().hex[:12]
        # Absolute: great-expectations refuses relative Data Docs folders.
        root = (Path(out) / "runs" / f"cycle={cycle}" / f"run={run_id}").resolve()
        root.mkdir(parents=True, exist_ok=True)
        return cls(root)

    def path(self, stage: str, name: str) -> Path:
        p = self.root / stage / name
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def save_frames(self, stage: str, frames: dict[str, pd.DataFrame]) -> None:
        for name, df in frames.items():
            df.to_parquet(self.path(stage, f"{name}.parquet"), index=True)

    def load_frames(self, stage: str, names: list[str] | None = None) -> dict[str, pd.DataFrame]:
        folder = self.root / stage
        files = sorted(folder.glob("*.parquet"))
        out = {}
        for f in files:
            if names is None or f.stem in names:
                out[f.stem] = pd.read_parquet(f)
        return out

    def save_json(self, stage: str, name: str, obj: Any) -> Path:
        p = self.path(stage, f"{name}.json")
        p.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
        return p

    def load_json(self, stage: str, name: str) -> Any:
        return json.loads((self.root / stage / f"{name}.json").read_text())
