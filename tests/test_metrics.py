"""Recall@K / NDCG@K against hand-computed values, the seen-item rule of the shared top-k step, report files."""

import math
from pathlib import Path

import pytest
import torch

from model.data.split import EvalCase
from model.eval.metrics import MetricReport, evaluate_scorer, ranking_metrics
from model.eval.report import markdown_table, read_report, write_report
from model.eval.scorer import top_k_from_scores


def _case(target: int, seen: tuple[int, ...] = (), user: int = 0) -> EvalCase:
    return EvalCase(user, seen, frozenset(seen), target)


def _ranking_with(target: int, rank: int, length: int = 20) -> list[int]:
    """A ranking of distinct items (100, 101, ...) with `target` placed at 0-based `rank`."""
    others = [100 + i for i in range(length)]
    return [*others[:rank], target, *others[rank : length - 1]]


def test_hand_computed_values() -> None:
    cases = [_case(3), _case(7), _case(9), _case(4)]
    ranked = [_ranking_with(3, 0), _ranking_with(7, 5), list(range(100, 120)), _ranking_with(4, 12)]
    m = ranking_metrics(cases, ranked)
    assert m["recall@5"] == pytest.approx(1 / 4)
    assert m["recall@10"] == pytest.approx(2 / 4)
    assert m["recall@20"] == pytest.approx(3 / 4)
    assert m["ndcg@5"] == pytest.approx(1.0 / 4)
    assert m["ndcg@10"] == pytest.approx((1.0 + 1 / math.log2(7)) / 4)
    assert m["ndcg@20"] == pytest.approx((1.0 + 1 / math.log2(7) + 1 / math.log2(14)) / 4)
    assert list(m) == ["recall@5", "recall@10", "recall@20", "ndcg@5", "ndcg@10", "ndcg@20"]


def test_rank_exactly_at_cutoff_is_a_miss() -> None:
    m = ranking_metrics([_case(1)], [_ranking_with(1, 5)], ks=(5, 6))
    assert m["recall@5"] == 0.0
    assert m["recall@6"] == 1.0
    assert m["ndcg@6"] == pytest.approx(1 / math.log2(7))


def test_bad_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match="2 cases but 1 rankings"):
        ranking_metrics([_case(1), _case(2)], [[1]])
    with pytest.raises(ValueError, match="repeats an item"):
        ranking_metrics([_case(1)], [[5, 5, 1]])
    with pytest.raises(ValueError, match="positive"):
        ranking_metrics([_case(1)], [[1]], ks=(0,))


def test_top_k_removes_seen_items_but_never_the_target() -> None:
    scores = torch.tensor([[0.9, 0.8, 0.7, 0.6, 0.5, 0.4]])
    case = _case(target=1, seen=(0, 1, 2))  # the target was seen before: it stays
    assert top_k_from_scores(scores, [case], 3, exclude_seen=False) == [[0, 1, 2]]
    assert top_k_from_scores(scores, [case], 3, exclude_seen=True) == [[1, 3, 4]]


def test_top_k_list_is_short_only_when_items_run_out() -> None:
    scores = torch.tensor([[0.3, 0.2, 0.1]])
    assert top_k_from_scores(scores, [_case(2, seen=(0, 1))], 3, exclude_seen=True) == [[2]]
    with pytest.raises(ValueError, match="k must be between 1 and the number of items \\(3\\), got 4"):
        top_k_from_scores(scores, [_case(2)], 4, exclude_seen=False)


class _Fixed:
    name = "fixed"

    def rank(self, cases: list[EvalCase], k: int, exclude_seen: bool) -> list[list[int]]:
        return [[c.target, *range(100, 100 + k - 1)] if c.user % 2 == 0 else list(range(100, 100 + k)) for c in cases]


def test_evaluate_scorer_and_report_files(tmp_path: Path) -> None:
    cases = [_case(1, user=u) for u in range(4)]
    rep = evaluate_scorer(_Fixed(), cases, dataset="toy", split="test", exclude_seen=True)
    assert rep.metrics["recall@10"] == 0.5 and rep.metrics["ndcg@5"] == 0.5
    assert (rep.model, rep.n_cases, rep.exclude_seen) == ("fixed", 4, True)
    other = MetricReport("other", "toy", "test", True, 4, {k: 0.0 for k in rep.metrics})
    table = markdown_table([rep, other])
    assert "seen items removed" in table
    assert "| model | R@5 | R@10 | R@20 | N@5 | N@10 | N@20 |" in table
    assert "| fixed | 0.5000 | 0.5000 | 0.5000 | 0.5000 | 0.5000 | 0.5000 |" in table
    json_path, md_path = write_report([rep, other], tmp_path, "r")
    assert md_path.read_text() == table
    assert read_report(json_path) == [rep, other]
