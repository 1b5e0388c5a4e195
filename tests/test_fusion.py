"""The fused ranking: exactly the brute-force re-ranking of its candidate set; its configuration round-trips through
the artifact; refresh (real Redis), the live path (the real app) and evaluation rank a user alike; the tuning step
keeps the LM alone unless a fusion beats it on the cases it is given; bad values are refused by name."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import redis
import torch

from model.artifact import RANKING_FILE, load_artifact, set_ranking
from model.cache.codec import decode
from model.cache.history import HistoryStore
from model.cache.keys import KeySchema
from model.cache.store import CacheStore
from model.data.split import EvalCase, leave_one_out
from model.errors import DataFormatError, UserError
from model.eval.generative import RecommenderScorer
from model.generate.reference import brute_force_scores
from model.rank.config import Fusion, RankingConfig
from model.rank.fusion import Candidates, fuse, fused_scores
from model.rank.tuning import tune_fusion
from model.recommender import Recommender
from offline.refresh.job import RefreshConfig, RefreshJob
from tests.conftest import make_tiny_setup
from tests.service_fixtures import N_ITEMS, running, settings_for, toy_dataset
from tests.tiny_artifact import save_random_sasrec, save_setup

pytestmark = pytest.mark.anyio
FUSED = RankingConfig(
    seen_removed=Fusion("sum", 2.0), seen_kept=Fusion("rrf", 1.5), lm_candidates=8, sasrec_candidates=10
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def fused_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fused")
    save_setup(root / "artifact", make_tiny_setup(n_items=N_ITEMS, level_sizes=(4, 4, 4), seed=1), toy_dataset())
    set_ranking(root / "artifact", FUSED, save_random_sasrec(root / "sasrec", toy_dataset()))
    return root / "artifact"


def test_the_ranking_round_trips_through_the_artifact(fused_dir: Path) -> None:
    artifact = load_artifact(fused_dir)
    assert artifact.ranking == FUSED and artifact.has_sasrec
    assert json.loads((fused_dir / RANKING_FILE).read_text())["seen_removed"] == {"method": "sum", "weight": 2.0}
    assert RankingConfig.from_dict(FUSED.to_dict()) == FUSED


def test_a_new_ranking_is_a_new_version_and_the_old_sasrec_is_kept(tmp_path: Path, fused_dir: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(fused_dir, copy)
    before = load_artifact(copy).version
    again = RankingConfig(seen_removed=Fusion("sum", 4.0), lm_candidates=8, sasrec_candidates=10)
    meta = set_ranking(copy, again)  # no SASRec given: the artifact's own is kept
    loaded = load_artifact(copy)
    assert meta.version == loaded.version != before and loaded.ranking == again and loaded.has_sasrec
    set_ranking(copy, RankingConfig())  # back to the LM alone: no SASRec needed, none kept
    assert not load_artifact(copy).has_sasrec and not (copy / RANKING_FILE).exists()


def test_fused_lists_are_the_brute_force_reranking_of_the_candidates(fused_dir: Path) -> None:
    rec = Recommender(load_artifact(fused_dir), backend="transformers", dtype="float32")
    histories = [list(s) for s in rec.artifact.dataset.sequences[:6] if s]
    sasrec = rec.artifact.load_sasrec()
    sas = torch.log_softmax(sasrec.scores(histories).float(), -1).double().numpy()
    prompts = rec.prompts.batch(histories)
    for rule in (True, False):
        fusion = FUSED.fusion(rule)
        got = rec.recommend(histories, 12, exclude_seen=rule)
        cands = rec.candidates(histories, 12, exclude_seen=rule)
        for history, prompt, row, cand, sas_row in zip(histories, prompts, got, cands, sas, strict=True):
            lm_full = brute_force_scores(rec.generator.model, rec.trie, prompt)  # type: ignore[attr-defined]
            items = cand.items
            # the candidate set: the LM's top (banned items out) and SASRec's top 10 (banned items out)
            allowed = [i for i in range(N_ITEMS) if not (rule and i in set(history))]
            sas_top = sorted(allowed, key=lambda i: (-sas_row[i], i))[:10]
            assert set(sas_top) <= set(items.tolist()) and (not rule or not set(items.tolist()) & set(history))
            np.testing.assert_allclose(cand.lm, lm_full[items], atol=1e-4)  # every LM score is exact
            np.testing.assert_allclose(cand.sasrec, sas_row[items], atol=1e-6)
            brute = Candidates(items, lm_full[items], sas_row[items])
            scores = fused_scores(brute, fusion, FUSED.rrf_k)
            order = sorted(range(items.size), key=lambda j: (-scores[j], int(items[j])))[:12]
            assert [s.item for s in row] == [int(items[j]) for j in order]


def test_fuse_orders_by_the_fused_score_with_ties_by_item() -> None:
    c = Candidates(np.array([5, 3, 9, 1]), np.array([-1.0, -2.0, -1.0, -3.0]), np.array([-2.0, -1.0, -2.0, -0.5]))
    assert [s.item for s in fuse(c, Fusion("sum", 1.0), 60, 4)] == [3, 5, 9, 1]  # 3, 5, 9 tie at -3; 1 has -3.5
    assert [s.item for s in fuse(c, Fusion("lm"), 60, 4)] == [5, 9, 3, 1]
    assert fuse(c, Fusion("rrf", 1.0), 60, 2)[0].score == pytest.approx(1 / 61 + 1 / 63)  # item 5: LM 1st, SASRec 3rd


async def test_refresh_live_and_evaluate_agree_on_a_users_list(
    fused_dir: Path, redis_client: redis.Redis, keys: KeySchema
) -> None:
    rec = Recommender(load_artifact(fused_dir), backend="transformers", dtype="float32")
    job = RefreshJob(
        rec, CacheStore(redis_client, keys), HistoryStore(redis_client, keys), RefreshConfig(k=10, grace_s=0.0)
    )
    version = job.run().version
    user, seq = "2", list(rec.artifact.dataset.sequences[1])
    refreshed = decode(CacheStore(redis_client, keys).get_raw(version, user) or b"").items.tolist()
    # evaluation: a case whose history is the user's whole sequence, seen items removed
    case = EvalCase(1, tuple(seq), frozenset(seq), target=next(i for i in range(N_ITEMS) if i not in seq))
    evaluated = RecommenderScorer("rec", rec).rank([case], 10, exclude_seen=True)[0]
    # the live path: the service with an empty cache version generates the user's list itself
    redis_client.unlink(CacheStore(redis_client, keys).keys.recs(version, user))
    settings = settings_for(fused_dir, keys, live_dtype="float32", live_k=10)
    async with running(settings) as (_, client):
        body = (await client.get(f"/users/{user}/recommendations", params={"k": 10})).json()
    assert body["source"] == "live"
    live = [int(it["id"]) - 5000 for it in body["items"]]  # the toy catalogue's raw ids (service_fixtures.raw)
    assert refreshed == evaluated == live and len(refreshed) == 10
    assert not set(refreshed) & set(seq)


def test_tuning_scores_each_fusion_as_evaluation_would_and_keeps_the_best(fused_dir: Path) -> None:
    artifact = load_artifact(fused_dir)
    plain = RankingConfig(lm_candidates=8, sasrec_candidates=10)
    with pytest.raises(UserError, match="no fused ranking"):
        Recommender(artifact, "transformers", "float32", ranking=plain).candidates([[1, 2]], 5)
    rec = Recommender(artifact, "transformers", "float32", ranking=plain, sasrec=artifact.load_sasrec())
    cases = list(leave_one_out(artifact.dataset, max_history=10).valid)
    grid = (Fusion("lm"), Fusion("sum", 1.0), Fusion("rrf", 3.0))
    result = tune_fusion(rec, cases, exclude_seen=True, grid=grid, ks=(5, 10, 20))
    # each trial's numbers are what evaluation of that ranking gives on the same cases
    from model.eval.metrics import ranking_metrics

    for trial in result.trials:
        ranked = RecommenderScorer(
            "x", Recommender(artifact, "transformers", "float32", ranking=RankingConfig(
                seen_removed=trial.fusion, lm_candidates=8, sasrec_candidates=10), sasrec=artifact.load_sasrec())
        ).rank(cases, 20, exclude_seen=True)  # fmt: skip
        assert ranking_metrics(cases, ranked, (5, 10, 20)) == pytest.approx(trial.metrics)
    best = max(result.trials, key=lambda t: t.metrics["ndcg@10"])  # the first of equals: the LM alone on a tie
    assert result.best == best.fusion and [t.fusion for t in result.trials] == list(grid)
    assert result.record()["cases"] == len(cases)


def test_bad_ranking_values_are_refused_by_name(tmp_path: Path, fused_dir: Path) -> None:
    with pytest.raises(ValueError, match="fusion method 'mean'"):
        Fusion("mean")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="fusion weight must be a finite number >= 0, got -1"):
        Fusion("sum", -1.0)
    with pytest.raises(ValueError, match="lm_candidates must be >= 1"):
        RankingConfig(lm_candidates=0)
    with pytest.raises(ValueError, match=r"unknown ranking field\(s\) \['colour'\]"):
        RankingConfig.from_dict({"colour": 1})
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(fused_dir, broken)
    (broken / RANKING_FILE).write_text('{"seen_removed": {"method": "sum", "weight": "heavy"}}')
    with pytest.raises(DataFormatError, match=r"ranking\.json"):
        load_artifact(broken, verify=False)
    plain = tmp_path / "plain"
    shutil.copytree(fused_dir, plain)
    set_ranking(plain, RankingConfig())  # the LM alone: the SASRec goes
    with pytest.raises(UserError, match=r"fuses with SASRec .* but none was given"):
        set_ranking(plain, FUSED)
    assert load_artifact(plain).ranking == RankingConfig()  # the refused change left the artifact as it was
