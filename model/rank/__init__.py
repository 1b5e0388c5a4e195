"""The product's ranking: the LM's constrained search alone, or fused with the collaborative model (SASRec).

`config` holds what an artifact stores (`RankingConfig`, chosen on validation); `fusion` turns a user's candidates
and their two scores into the final list; `candidates` builds those candidates from the generator and SASRec;
`tuning` picks the fusion on validation. `model.recommender.Recommender` runs it for refresh, the live path and
evaluation alike.
"""
