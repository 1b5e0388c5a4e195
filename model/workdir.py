"""Every path under the work directory is built here, and nowhere else.

Contract: `WorkDir(root)` names where each stage reads and writes; commands, tests and tools ask it instead of
joining path parts themselves, so the layout can change in one place. It creates nothing and checks nothing.

Layout, with the default root `runs/`:
    runs/data/<dataset>/                       processed dataset (`genrec prepare`; model.data.processed)
    runs/cache/<dataset>/                      a public archive downloaded for a built-in dataset
    runs/models/<dataset>/sasrec/              the SASRec baseline (model.baselines.sasrec_artifact)
    runs/models/<dataset>/<name>/              a model artifact (`genrec train`; model.artifact), e.g. lm-tiny
    runs/tokenizers/<dataset>/<label>/         a tokenizer stage (`genrec train-tokenizer`), e.g. tiny, tiny-noalign
    runs/checkpoints/<dataset>/<name>/         training checkpoints of the artifact <name>
    runs/reports/<dataset>-<split>-<rule>.json evaluation reports (+ .md); rule keep-seen, exclude-seen, both-rules
    runs/lm/<folder>/                          a base LM converted for training (e.g. SmolLM2 from its GGUF)
    runs/prometheus/                           Prometheus multiprocess files of a multi-worker service
Every stage's folder ends with `META_FILE` (meta.json), written last, so its presence means the stage finished.
`derived_artifact(folder, version)` names a new version of an artifact made from it (`genrec catalogue add/remove`):
a sibling `<name>@<first 12 hex digits of the version>`, where `<name>` drops an earlier `@...` suffix, so
`lm-tiny@3f9c0a1b2c3d` follows `lm-tiny` and every later edit sits beside it. It knows nothing about what the
files contain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DEMO_MODEL = "lm-tiny"  # the artifact name the demo and bootstrap train and serve
META_FILE = "meta.json"  # every stage's folder writes this last: a folder without it is unfinished
_VERSION_SUFFIX = re.compile(r"@[0-9a-f]{12}$")


def derived_artifact(folder: Path, version: str) -> Path:
    """Where a new version of the artifact in `folder` goes by default (see the module contract)."""
    return folder.with_name(f"{_VERSION_SUFFIX.sub('', folder.name)}@{version[:12]}")


@dataclass(frozen=True, slots=True)
class WorkDir:
    root: Path

    def dataset(self, name: str) -> Path:
        return self.root / "data" / name

    def download(self, name: str) -> Path:
        return self.root / "cache" / name

    def models(self, dataset: str) -> Path:
        return self.root / "models" / dataset

    def model(self, dataset: str, name: str) -> Path:
        return self.models(dataset) / name

    def sasrec(self, dataset: str) -> Path:
        return self.model(dataset, "sasrec")

    def demo_model(self, dataset: str) -> Path:
        return self.model(dataset, DEMO_MODEL)

    def tokenizers(self, dataset: str) -> Path:
        return self.root / "tokenizers" / dataset

    def tokenizer(self, dataset: str, label: str) -> Path:
        return self.tokenizers(dataset) / label

    def checkpoints(self, dataset: str, name: str) -> Path:
        return self.root / "checkpoints" / dataset / name

    def reports(self) -> Path:
        return self.root / "reports"

    def report(self, dataset: str, split: str, exclude_seen: bool | None) -> Path:
        """The JSON report of one evaluate run (its markdown twin has the same stem); None: both rules."""
        rule = "both-rules" if exclude_seen is None else "exclude-seen" if exclude_seen else "keep-seen"
        return self.reports() / f"{dataset}-{split}-{rule}.json"

    def base_lm(self, folder: str) -> Path:
        return self.root / "lm" / folder

    def prometheus(self) -> Path:
        return self.root / "prometheus"
