"""Evaluation: the `Scorer` protocol, full-ranking Recall/NDCG for leave-one-out, and report files."""
