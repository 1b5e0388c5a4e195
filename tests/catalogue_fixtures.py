"""A trained world for the living-catalogue tests: a toy prepared dataset with item text, a real tokenizer stage
trained on it (`genrec train-tokenizer --lm tiny`, with and without the alignment loss), and a model artifact whose
codes came from it (the tokenizer stage's LM with the code tokens, saved as `genrec train` would, with the
tokenizer folder recorded). Nothing is mocked; everything is small enough to build in seconds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
from typer.testing import CliRunner

from model.artifact import PromptConfig, save_artifact
from model.baselines.popularity import PopularityScorer
from model.codes.item_codes import ItemCodes
from model.data.processed import load_processed
from model.lm.smollm2 import load_causal_lm
from model.workdir import WorkDir
from offline.cli import _register, app
from tests.test_tokenizer_cli import _work

_register()
runner = CliRunner()
TOKENIZER_ARGS = ["--lm", "tiny", "--levels", "3", "--codebook-size", "8", "--epochs", "6", "--warmup-epochs", "2"]
TOKENIZER_ARGS += ["--batch-size", "16", "--latent-dim", "4"]
EMBEDDING_DIM = 8  # the toy SASRec embeddings' width (tests/test_tokenizer_cli.py)


@dataclass(frozen=True)
class World:
    work: Path
    tokenizer: Path  # aligned tokenizer stage
    tokenizer_noalign: Path
    artifact: Path  # LM artifact over the aligned tokenizer's codes
    artifact_noalign: Path


def cli(*args: str, work: Path | None = None):  # type: ignore[no-untyped-def]
    argv = (["--work-dir", str(work)] if work is not None else []) + list(args)
    return runner.invoke(app, argv, env={"GENREC_PROGRESS": "0"})


def build_world(tmp: Path) -> World:
    work = _work(tmp)
    for extra in ([], ["--no-align"]):
        result = cli("train-tokenizer", "toy", *TOKENIZER_ARGS, *extra, work=work)
        assert result.exit_code == 0, result.exception
    wd = WorkDir(work)
    tok, tok_noalign = wd.tokenizer("toy", "tiny"), wd.tokenizer("toy", "tiny-noalign")
    return World(work, tok, tok_noalign, save_lm_artifact(work, tok, "lm"), save_lm_artifact(work, tok_noalign, "lm-n"))


def save_lm_artifact(work: Path, tokenizer_dir: Path, name: str) -> Path:
    """The tokenizer stage's LM as a model artifact, with the stage recorded as the source of its codes."""
    data, _ = load_processed(WorkDir(work).dataset("toy"))
    lm = load_causal_lm(tokenizer_dir / "lm")
    codes = ItemCodes.load(tokenizer_dir)
    folder = WorkDir(work).model("toy", name)
    save_artifact(
        folder,
        lm.model,
        lm.tokenizer,
        codes,
        data,
        "test",
        PopularityScorer.fit(data.sequences, data.n_items).order,
        base_lm="tiny",
        prompt=PromptConfig(max_history=5),
        training={"codes": str(tokenizer_dir)},
    )
    return folder


def items_file(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def new_items(n: int, start: int = 0, embedding: bool = False) -> list[dict[str, object]]:
    """`n` new toy items with text (the toy catalogue's words), or with a collaborative embedding instead."""
    rng = np.random.default_rng(start)
    words = ["red", "blue", "glass", "steel", "slide", "pipette", "tube", "lamp", "scale", "filter"]
    rows: list[dict[str, object]] = []
    for i in range(start, start + n):
        if embedding:
            rows.append({"id": f"emb{i}", "embedding": rng.normal(size=EMBEDDING_DIM).round(4).tolist()})
        else:
            rows.append({"id": f"new{i}", "title": f"{words[i % 10]} {words[(i * 3) % 10]} new", "brand": "acme"})
    return rows


COPY_PROMPT = PromptConfig(max_history=5, head="", sep="", tail="", add_bos=True)  # bos + code tokens, as trained


def save_copy_artifact(work: Path, tokenizer_dir: Path, name: str, steps: int = 200) -> Path:
    """An artifact whose LM strongly implies the last item of a history: the tokenizer stage's tiny LM trained to
    repeat the last code tuple of a prompt (bos + 1..5 tuples -> the last one again), tuples drawn from the WHOLE code
    space, so it repeats any item's code, an item added after training included."""
    import itertools

    import torch

    from model.codes.vocab import CodeVocab

    data, _ = load_processed(WorkDir(work).dataset("toy"))
    lm = load_causal_lm(tokenizer_dir / "lm")
    codes = ItemCodes.load(tokenizer_dir)
    vocab = CodeVocab.from_tokenizer(lm.tokenizer, codes.level_sizes)
    space = np.array(list(itertools.product(*(range(s) for s in codes.level_sizes))))
    paths = np.stack([vocab.token_ids[lv][space[:, lv]] for lv in range(codes.n_levels)], axis=1)
    n = codes.n_levels
    torch.manual_seed(0)
    model = lm.model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    rng = np.random.default_rng(0)
    for step in range(steps):
        length = 1 + step % COPY_PROMPT.max_history  # histories of 1..max_history items, the last one repeated
        picked = paths[rng.integers(0, len(paths), size=(64, length))].reshape(64, length * n)
        bos = np.full((64, 1), lm.tokenizer.bos_token_id)
        batch = torch.as_tensor(np.concatenate([bos, picked, picked[:, -n:]], axis=1))
        logits = model(input_ids=batch[:, :-1]).logits[:, -n:]
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, -n:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    folder = WorkDir(work).model("toy", name)
    save_artifact(
        folder,
        model,
        lm.tokenizer,
        codes,
        data,
        "test",
        PopularityScorer.fit(data.sequences, data.n_items).order,
        base_lm="tiny",
        prompt=COPY_PROMPT,
        training={"codes": str(tokenizer_dir)},
    )
    return folder
