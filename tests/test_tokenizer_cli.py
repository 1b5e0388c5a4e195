"""`genrec train-tokenizer` on a toy prepared dataset with the tiny LM: the artifact folder holds unique ItemCodes,
an LM whose code tokens start at the projected codewords, and a meta whose hash matches the files; bad inputs fail
with messages that say what to do."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from model.codes.item_codes import ItemCodes
from model.data.processed import save_processed
from model.data.records import InteractionDataset, Item
from model.errors import UserError
from model.hashing import folder_hash
from model.lm.smollm2 import load_causal_lm
from model.tokenizer.artifact import load_tokenizer
from model.tokenizer.build import read_meta
from model.workdir import META_FILE, WorkDir
from offline.cli import _register, app

_register()  # idempotent

runner = CliRunner()
WORDS = ["red", "blue", "glass", "steel", "slide", "pipette", "tube", "lamp", "scale", "filter"]
SMALL = ["--lm", "tiny", "--levels", "2", "--codebook-size", "8", "--epochs", "3", "--warmup-epochs", "1"]
SMALL += ["--batch-size", "16", "--latent-dim", "4"]


def _work(tmp_path: Path, n_items: int = 40, with_text: bool = True, rows: int | None = None) -> Path:
    rng = np.random.default_rng(0)
    items = [
        Item(i, f"i{i}", f"{WORDS[i % 10]} {WORDS[(i // 10) % 10]} {i}" if with_text else "") for i in range(n_items)
    ]
    seqs = [list(rng.choice(n_items, size=6, replace=False)) for _ in range(12)]
    ds = InteractionDataset("toy", items, [f"u{u}" for u in range(12)], [[int(i) for i in s] for s in seqs])
    work = tmp_path / "w"
    save_processed(ds, WorkDir(work).dataset("toy"), "test")
    emb = WorkDir(work).sasrec("toy")
    emb.mkdir(parents=True)
    np.save(emb / "item_embeddings.npy", rng.normal(size=(rows or n_items, 8)).astype(np.float32))
    return work


def _invoke(work: Path, *args: str) -> tuple[int, str, BaseException | None]:
    argv = ["--work-dir", str(work), "train-tokenizer", "toy", *args]
    result = runner.invoke(app, argv, env={"GENREC_PROGRESS": "0"})
    return result.exit_code, result.stdout, result.exception


def test_artifact_holds_unique_codes_an_extended_lm_and_a_checked_meta(tmp_path: Path) -> None:
    work = _work(tmp_path)
    code, out, exc = _invoke(work, *SMALL)
    assert code == 0, exc
    folder = WorkDir(work).tokenizer("toy", "tiny")
    codes = ItemCodes.load(folder)
    assert codes.n_items == 40 and codes.level_sizes == (8, 8)
    meta = read_meta(folder)
    assert meta.content_hash == folder_hash(folder, exclude=(META_FILE,)) and meta.content_hash in out
    assert meta.item_codes_hash == codes.content_hash
    assert meta.metrics["collision_rate_after"] == 0.0 and meta.metrics["align_active"]
    assert (
        meta.inputs["dataset_hash"]
        == json.loads((WorkDir(work).dataset("toy") / META_FILE).read_text())["content_hash"]
    )
    assert meta.code_token_init.startswith("projected codewords")

    lm = load_causal_lm(folder / "lm")
    ids = lm.tokenizer(codes.tokens(5), add_special_tokens=False)["input_ids"]
    assert len(ids) == 2
    table = lm.model.get_input_embeddings().weight.detach()
    a_ids = lm.tokenizer.convert_tokens_to_ids([f"<a_{c}>" for c in range(8)])
    old_norm = float(table[: min(a_ids)].norm(dim=1).mean())  # code tokens were appended after the old vocabulary
    expected = load_tokenizer(folder / "quantizer").code_token_embeddings(old_norm)
    assert expected is not None
    assert torch.allclose(table[a_ids], torch.as_tensor(expected[0]), atol=1e-4)


def test_no_align_writes_its_own_folder_and_keeps_the_lm_initialisation(tmp_path: Path) -> None:
    work = _work(tmp_path)
    code, _, exc = _invoke(work, *SMALL, "--no-align")
    assert code == 0, exc
    meta = read_meta(WorkDir(work).tokenizer("toy", "tiny-noalign"))
    assert not meta.metrics["align_active"] and meta.metrics["probe_top1"] is not None
    assert meta.code_token_init.startswith("lm default")


def test_dataset_without_text_trains_with_alignment_off(tmp_path: Path) -> None:
    work = _work(tmp_path, with_text=False)
    code, _, exc = _invoke(work, *SMALL)
    assert code == 0, exc
    meta = read_meta(WorkDir(work).tokenizer("toy", "tiny"))
    assert meta.metrics["note"] == "no item text: alignment loss off" and meta.inputs["text_embedding"] is None


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        ({}, ["--levels", "1"], "1 levels x 8 codes give 8 distinct codes, fewer than the 40 items"),
        ({"rows": 39}, [], r"shape \(39, 8\), expected \(40, d\)"),
        ({}, ["--embeddings", "nowhere.npy"], "no item embeddings; train SASRec on this dataset first"),
        ({}, ["--lm", "no/such/folder"], "no such folder"),
    ],
)
def test_bad_inputs_fail_with_what_to_do(tmp_path: Path, setup: dict, args: list[str], message: str) -> None:
    work = _work(tmp_path, **setup)
    code, _, exc = _invoke(work, *SMALL, *args)
    assert code != 0 and isinstance(exc, UserError)
    assert re.search(message, str(exc)), str(exc)
    assert not (work / "tokenizers").exists()
