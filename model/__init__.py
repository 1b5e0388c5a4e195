"""The recommender as a library: datasets, baselines, evaluation, tokenizer, LM, generation, cache format.

`model` starts no server and runs no job; `offline/` and `service/` import it, never the other way round.
"""
