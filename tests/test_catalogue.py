"""`genrec catalogue add/remove` on a real trained toy world (tests/catalogue_fixtures.py): new items get unique,
deterministic codes that are in the trie (from text through the alignment projection, a fitted text map, or an
embedding); the generator, the refresh and the service know them; removed items never appear in refresh output,
live answers or evaluation; malformed items files exit 2 naming file, line and field and leave the artifact
untouched; every edit is a new version and the old one stays loadable."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import orjson
import pytest
import redis
import torch

from model.artifact import load_artifact, read_artifact_meta, set_ranking
from model.baselines.sasrec import SASRec, SASRecConfig
from model.baselines.sasrec_artifact import SASRecMeta, save_sasrec
from model.cache.codec import decode
from model.cache.history import HistoryStore
from model.cache.keys import KeySchema
from model.cache.store import CacheStore
from model.catalogue.edit import remove_items
from model.catalogue.state import STATE_FILE
from model.codes.trie import CodeTrie
from model.data.split import leave_one_out
from model.errors import DataFormatError, UserError
from model.eval.generative import GenerativeScorer
from model.hashing import folder_hash
from model.rank.config import Fusion, RankingConfig
from model.recommender import Recommender
from model.workdir import META_FILE
from offline.cli import main
from offline.refresh.job import RefreshConfig, RefreshJob
from service.catalogue import Catalogue
from tests.catalogue_fixtures import World, build_world, cli, items_file, new_items, save_copy_artifact


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("cat"))


@pytest.fixture(scope="module")
def copy_dir(world: World) -> Path:
    return save_copy_artifact(world.work, world.tokenizer, "copy")


def _add(artifact: Path, items: Path, *extra: str) -> Path:
    result = cli("catalogue", "add", "--artifact", str(artifact), "--items", str(items), *extra)
    assert result.exit_code == 0, result.exception
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("artifact"))
    return Path(line.split()[1])


def _methods(folder: Path) -> list[str]:
    return [a["method"] for a in orjson.loads((folder / STATE_FILE).read_bytes())["added"]]


def test_added_items_get_unique_deterministic_codes_in_the_trie(world: World, tmp_path: Path) -> None:
    before = folder_hash(world.artifact)
    rows = new_items(6) + new_items(2, embedding=True)
    feed = items_file(tmp_path / "new.jsonl", rows)
    first = _add(world.artifact, feed, "--out", str(tmp_path / "a"))
    second = _add(world.artifact, feed, "--out", str(tmp_path / "b"))
    old, a, b = load_artifact(world.artifact), load_artifact(first), load_artifact(second)
    n = old.codes.n_items
    assert a.codes.n_items == n + 8 and np.array_equal(a.codes.codes, b.codes.codes)  # same inputs, same codes
    assert np.array_equal(a.codes.codes[:n], old.codes.codes)  # the trained items keep theirs
    assert len({tuple(c) for c in a.codes.codes.tolist()}) == n + 8  # unique (ItemCodes checks it too)
    assert [it.raw_id for it in a.dataset.items[n:]] == [r["id"] for r in rows]
    assert a.dataset.items[n].title == rows[0]["title"] and a.dataset.items[n].fields == {"brand": "acme"}
    assert _methods(first) == ["text:projection"] * 6 + ["embedding"] * 2
    trie = CodeTrie.build(a.codes, a.load_tokenizer()[1])
    assert all(trie.item_at(trie.path_of(i)) == i for i in range(n, n + 8))
    assert a.version != old.version and a.meta.dataset_hash != old.meta.dataset_hash
    assert a.state.trained_items == n and a.state.trained_dataset == old.meta.dataset_hash
    assert list(a.popular[-8:]) == list(range(n, n + 8))  # no interactions yet: last in popularity
    assert folder_hash(world.artifact) == before and load_artifact(world.artifact).version == old.version
    default = _add(world.artifact, feed)  # no --out: a sibling named after the new version
    assert default.parent == world.artifact.parent and default.name == f"lm@{read_artifact_meta(default).version[:12]}"


def test_text_maps_and_the_tokenizer_without_alignment(world: World, tmp_path: Path) -> None:
    feed = items_file(tmp_path / "new.jsonl", new_items(3))
    assert (
        _methods(_add(world.artifact, feed, "--text-map", "fitted", "--out", str(tmp_path / "f")))
        == ["text:fitted"] * 3
    )
    assert _methods(_add(world.artifact_noalign, feed, "--out", str(tmp_path / "n"))) == ["text:fitted"] * 3
    result = cli("catalogue", "add", "--artifact", str(world.artifact_noalign), "--items", str(feed), "--text-map",
                 "projection")  # fmt: skip
    assert isinstance(result.exception, DataFormatError)
    assert f"{feed}:1: field 'embedding': item 'new0': it has text only" in str(result.exception)
    assert "without the alignment loss" in str(result.exception)


@pytest.mark.parametrize(
    ("lines", "where", "message"),
    [
        (['{"id": "x1", "title": "a"}', '{"id": "x2", "title": '], ":2:", "invalid JSON"),
        (['{"title": "no id"}'], ":1: field 'id':", "expected a string id"),
        (['{"id": "a,b", "title": "t"}'], ":1: field 'id':", "contains a comma"),
        (['{"id": "x1", "title": "a"}', '{"id": "x1", "title": "b"}'], ":2: field 'id':", "already given on line 1"),
        (['{"id": "x1", "title": 7}'], ":1: field 'title':", "expected a string"),
        (['{"id": "x1", "title": "t", "brand": {"x": 1}}'], ":1: field 'brand':", "a text field is a string"),
        (['{"id": "x1", "embedding": ["a"]}'], ":1: field 'embedding':", "finite numbers"),
        (['{"id": "x1", "embedding": [1, 2, 3]}'], ":1: field 'embedding':", "has 3 numbers"),
        (['{"id": "x1", "title": "ok"}', '{"id": "x2", "brand": " "}'], ":2:", "item 'x2': no title, no text field"),
        (['{"id": "i3", "title": "exists"}'], ":1: field 'id':", "item 'i3': already in the catalogue"),
        (["", "  "], "", "no items in the file"),
        (["[1, 2]"], ":1:", "expected a JSON object"),
    ],
)
def test_malformed_items_files_name_file_line_and_field_and_change_nothing(
    world: World, tmp_path: Path, lines: list[str], where: str, message: str
) -> None:
    feed = tmp_path / "bad.jsonl"
    feed.write_text("\n".join(lines) + "\n")
    siblings = sorted(p.name for p in world.artifact.parent.iterdir())
    before = folder_hash(world.artifact)
    result = cli("catalogue", "add", "--artifact", str(world.artifact), "--items", str(feed))
    assert isinstance(result.exception, UserError), result.output
    assert f"{feed}{where}" in str(result.exception) and message in str(result.exception), str(result.exception)
    assert folder_hash(world.artifact) == before
    assert sorted(p.name for p in world.artifact.parent.iterdir()) == siblings  # no new or half-written folder


def test_the_command_exits_2_with_one_line_and_no_stack_trace(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = tmp_path / "bad.jsonl"
    feed.write_text('{"id": "x1", "title": 3}\n')
    monkeypatch.setattr(
        sys, "argv", ["genrec", "catalogue", "add", "--artifact", str(world.artifact), "--items", str(feed)]
    )
    with pytest.raises(SystemExit) as stop:
        main()  # the console script's entry point: UserError -> one red line on stderr, exit code 2
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert f"error: {feed}:1: field 'title': expected a string, got 3" in err and "Traceback" not in err


def test_removed_items_are_never_generated_refreshed_or_evaluated(
    world: World, tmp_path: Path, redis_client: redis.Redis, keys: KeySchema
) -> None:
    art = load_artifact(world.artifact)
    gone = [art.dataset.items[i].raw_id for i in (0, 5)] + [art.dataset.items[int(art.popular[0])].raw_id]
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text(f"{gone[2]}\n")
    result = cli("catalogue", "remove", "--artifact", str(world.artifact), "--ids", ",".join(gone[:2]),
                 "--ids-file", str(ids_file), "--out", str(tmp_path / "r"))  # fmt: skip
    assert result.exit_code == 0, result.exception
    edited = load_artifact(tmp_path / "r")
    removed = {i for i, it in enumerate(edited.dataset.items) if it.raw_id in gone}
    assert edited.removed == removed and len(removed) == 3
    assert edited.codes == art.codes and removed.isdisjoint(edited.popular.tolist())
    n = art.codes.n_items

    rec = Recommender(edited, backend="transformers", dtype="float32")
    histories = [list(s) for s in edited.dataset.sequences]
    everything = rec.recommend(histories, k=n)  # every item it can give (the user's own history is not given)
    for history, r in zip(histories, everything, strict=True):
        assert len(r) == n - len(removed | set(history)) and removed.isdisjoint(s.item for s in r)
    assert removed.isdisjoint(rec.popular(n))

    job = RefreshJob(rec, CacheStore(redis_client, keys), HistoryStore(redis_client, keys), RefreshConfig(k=n - 3))
    written = job.run()
    lists = [decode(redis_client.get(keys.recs(written.version, u))).items.tolist() for u in edited.dataset.user_ids]
    assert len(lists) == written.users_written and all(removed.isdisjoint(items) for items in lists)

    cases = leave_one_out(edited.dataset, max_history=5).test
    ranked = GenerativeScorer.from_artifact(tmp_path / "r").rank(cases, k=n, exclude_seen=False)
    assert all(removed.isdisjoint(r) for r in ranked) and max(len(r) for r in ranked) == n - 3
    report = tmp_path / "report.json"
    ev = cli("evaluate", "toy", "--models", f"lm:{tmp_path / 'r'}", "--ks", "5", "--out", str(report), work=world.work)
    assert ev.exit_code == 0, ev.exception  # the edited version still counts as trained on this dataset

    again = cli("catalogue", "remove", "--artifact", str(tmp_path / "r"), "--ids", gone[0])
    assert again.exit_code == 0 and "nothing to change" in again.stdout
    unknown = cli("catalogue", "remove", "--artifact", str(world.artifact), "--ids", "nope,i1")
    assert isinstance(unknown.exception, UserError) and "'nope'" in str(unknown.exception)
    every = ",".join(it.raw_id for it in art.dataset.items)
    assert "empty" in str(cli("catalogue", "remove", "--artifact", str(world.artifact), "--ids", every).exception)

    feed = items_file(tmp_path / "back.jsonl", [{"id": gone[0]}])  # back in stock: no text needed
    back = load_artifact(_add(tmp_path / "r", feed, "--out", str(tmp_path / "back")))
    index = next(i for i, it in enumerate(back.dataset.items) if it.raw_id == gone[0])
    assert back.codes == art.codes and index not in back.removed and len(back.removed) == 2
    assert _methods(tmp_path / "back") == ["restored"]


def test_a_new_item_is_generated_refreshed_and_served(
    copy_dir: Path, tmp_path: Path, redis_client: redis.Redis, keys: KeySchema
) -> None:
    """An LM trained (before the item existed) to repeat the last item of a history returns the new item for a
    history ending with it (seen items kept, as a re-purchase deployment ranks): the trie, the prompt builder, the
    refresh and the service's catalogue all know it."""
    copy = copy_dir
    feed = items_file(tmp_path / "new.jsonl", new_items(3) + new_items(1, start=9, embedding=True))
    added = load_artifact(_add(copy, feed, "--out", str(tmp_path / "c")))
    n = load_artifact(copy).codes.n_items
    rec = Recommender(added, backend="transformers", dtype="float32", exclude_seen=False)  # may repeat the last item
    for new in range(n, n + 4):
        assert rec.recommend([[3, new]], k=3)[0][0].item == new  # any history ending with it
    before = Recommender(load_artifact(copy), backend="transformers", dtype="float32", exclude_seen=False)
    assert all(s.item < n for s in before.recommend([[3, 4]], k=n)[0])  # the old version cannot name them

    user = added.dataset.user_ids[0]
    history = HistoryStore(redis_client, keys)
    history.record(user, [n + 1], [1_700_000_000])
    job = RefreshJob(rec, CacheStore(redis_client, keys), history, RefreshConfig(k=5, grace_s=0.0))
    result = job.run()
    assert decode(redis_client.get(keys.recs(result.version, user))).items.tolist()[0] == n + 1

    catalogue = Catalogue.from_artifact(added)
    raw_new = added.dataset.items[n].raw_id
    assert catalogue.item_index[raw_new] == n and catalogue.n_items == n + 4
    assert orjson.loads(catalogue.fragments[n] + b"0}") == {"id": raw_new, "title": added.dataset.items[n].title,
                                                         "score": 0}  # fmt: skip
    assert (tmp_path / "c" / META_FILE).is_file()


def test_a_fused_ranking_ranks_added_items_and_never_removed_ones(copy_dir: Path, tmp_path: Path) -> None:
    """SASRec never saw an added item: it scores it at the uniform prior, reads only the items it knows from a
    history, and proposes no removed item."""
    fused = tmp_path / "fused"
    shutil.copytree(copy_dir, fused)
    n = load_artifact(fused).codes.n_items
    torch.manual_seed(0)
    cfg = SASRecConfig(n, max_len=10, hidden=16, layers=1, heads=1, dropout=0.1)
    save_sasrec(tmp_path / "sasrec", SASRec(cfg).eval(), SASRecMeta(cfg, {}, "toy", "h", 0, 1, 1, {}))
    both = Fusion("sum", 0.5)
    set_ranking(fused, RankingConfig(both, both, lm_candidates=5, sasrec_candidates=10), tmp_path / "sasrec")
    feed = items_file(tmp_path / "new.jsonl", new_items(2))
    added = load_artifact(_add(fused, feed, "--out", str(tmp_path / "added")))
    rec = Recommender(added, backend="transformers", dtype="float32", exclude_seen=False)
    for new in (n, n + 1):
        assert rec.recommend([[3, new]], k=3)[0][0].item == new
        (cands,) = rec.candidates([[3, new]], 5)
        assert cands.sasrec[list(cands.items).index(new)] == pytest.approx(-np.log(n))  # uniform: never seen
    sasrec_top = [int(i) for i in rec.candidates([[3, 4]], 5)[0].items[5:][:3]]  # SASRec's own proposals
    raw = [added.dataset.items[i].raw_id for i in sasrec_top]
    edited = remove_items(added, raw, out=tmp_path / "removed")
    assert edited is not None
    rec = Recommender(load_artifact(edited.folder), backend="transformers", dtype="float32", exclude_seen=False)
    (cands,) = rec.candidates([[3, 4]], 5)
    assert set(sasrec_top).isdisjoint(cands.items.tolist())
    assert set(sasrec_top).isdisjoint(s.item for s in rec.recommend([[3, 4]], k=n)[0])
