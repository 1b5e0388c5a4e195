"""Model artifact: save/load round trip, version = content hash, tamper and incomplete-folder detection, and a
Recommender built from the loaded artifact ranking exactly like the generator on the in-memory model."""

from pathlib import Path

import numpy as np
import orjson
import pytest

from model.artifact import PromptConfig, load_artifact, read_artifact_meta, save_artifact
from model.data.records import InteractionDataset
from model.errors import DataFormatError, UserError
from model.generate.hf_beam import HFBeamGenerator
from model.prompts import PromptBuilder
from model.recommender import Recommender
from tests.conftest import TinySetup, make_tiny_setup
from tests.tiny_artifact import save_setup, tiny_dataset


def _save(tmp_path: Path, setup: TinySetup, name: str = "art") -> tuple[Path, InteractionDataset]:
    dataset = tiny_dataset(setup.codes.n_items, n_users=12)
    save_setup(tmp_path / name, setup, dataset, metrics={"valid_ndcg@10": 0.1})
    return tmp_path / name, dataset


@pytest.fixture(scope="module")
def setup() -> TinySetup:
    return make_tiny_setup(n_items=120, level_sizes=(6, 6, 6), seed=3)


def test_round_trip_and_version_is_content_hash(tmp_path: Path, setup: TinySetup) -> None:
    folder, dataset = _save(tmp_path, setup)
    art = load_artifact(folder)
    assert art.codes == setup.codes
    assert list(art.dataset.sequences) == [list(s) for s in dataset.sequences]
    assert art.meta.prompt == PromptConfig(max_history=5)
    assert art.meta.metrics == {"valid_ndcg@10": 0.1}
    again, _ = _save(tmp_path, setup, name="art2")  # same content, another folder, another time
    assert read_artifact_meta(again).version == art.version


def test_version_does_not_depend_on_when_it_was_saved(tmp_path: Path, setup: TinySetup) -> None:
    folder, _ = _save(tmp_path, setup)
    data_meta = folder / "data" / "meta.json"  # the dataset's save time, written by save_processed
    raw = orjson.loads(data_meta.read_bytes())
    raw["created_at"] = "2001-01-01T00:00:00+00:00"  # as if saved in another second
    data_meta.write_bytes(orjson.dumps(raw))
    assert load_artifact(folder).version == read_artifact_meta(folder).version  # still verifies


def test_recommender_ranks_like_the_generator(tmp_path: Path, setup: TinySetup) -> None:
    folder, dataset = _save(tmp_path, setup)
    rec = Recommender(load_artifact(folder), backend="transformers", dtype="float32")  # as the generator below
    histories = [list(s) for s in dataset.sequences[:4]] + [[]]
    builder = PromptBuilder(setup.tokenizer, setup.codes, setup.vocab, max_history=5)
    search = HFBeamGenerator(setup.model, setup.trie)
    # the product's default: a user's own history items are banned in the search, so the list still holds k items
    got = rec.recommend(histories, k=7)
    expected = search.top_k(builder.batch(histories[:4]), k=7, exclude=[set(h) for h in histories[:4]])
    assert [[s.item for s in r] for r in got[:4]] == [[s.item for s in r] for r in expected]
    for a, b, h in zip(got[:4], expected, histories[:4], strict=True):
        np.testing.assert_allclose([s.score for s in a], [s.score for s in b], atol=1e-4)
        assert len(a) == 7 and not {s.item for s in a} & set(h)
    assert got[4] == []
    # seen items kept (a re-purchase deployment): the plain search
    kept = Recommender(load_artifact(folder), backend="transformers", dtype="float32", exclude_seen=False)
    plain = search.top_k(builder.batch(histories[:4]), k=7)
    assert [[s.item for s in r] for r in kept.recommend(histories, k=7)[:4]] == [[s.item for s in r] for r in plain]
    assert rec.popular(3, exclude={int(rec.artifact.popular[0])}) == [int(i) for i in rec.artifact.popular[1:4]]


def test_tampered_files_are_refused(tmp_path: Path, setup: TinySetup) -> None:
    folder, _ = _save(tmp_path, setup)
    np.save(folder / "popular.npy", np.arange(setup.codes.n_items))
    with pytest.raises(DataFormatError, match="do not match version"):
        load_artifact(folder)


def test_missing_or_incomplete_folders_are_refused(tmp_path: Path, setup: TinySetup) -> None:
    with pytest.raises(UserError, match=r"meta\.json is missing"):
        load_artifact(tmp_path / "nothing")
    folder, _ = _save(tmp_path, setup)
    (folder / "popular.npy").unlink()
    with pytest.raises(UserError, match=r"popular\.npy is missing"):
        load_artifact(folder)


def test_codes_must_cover_the_catalogue(tmp_path: Path, setup: TinySetup) -> None:
    with pytest.raises(UserError, match="codes cover 120 items"):
        save_artifact(
            tmp_path / "bad",
            setup.model,
            setup.tokenizer,
            setup.codes,
            tiny_dataset(50, 12),
            "test",
            [0],
            base_lm="tiny",
            prompt=PromptConfig(),
        )


def test_vllm_backend_without_vllm_is_a_clear_error(tmp_path: Path, setup: TinySetup) -> None:
    pytest.importorskip("torch")
    try:
        import vllm  # noqa: F401
    except ImportError:
        folder, _ = _save(tmp_path, setup)
        with pytest.raises(UserError, match="backend 'vllm' is not available"):
            Recommender(load_artifact(folder), backend="vllm")
    else:
        pytest.skip("vllm is installed: tests/test_generate_vllm.py covers the backend")
