"""Alignment Tokenization: collaborative item embeddings → unique code tuples whose codewords live in the LM's space.

The pieces, each in its own module: `config` (TokenizerConfig), `kmeans` (seeded k-means for codebook init),
`quantizer` (encoder → residual codebooks → decoder, plus the projection into the LM's embedding space), `losses`
(alignment losses), `collisions` (every item gets its own code), `metrics`, `trainer` (the training loop and its
typed result) and `artifact` (save / load). Nothing here knows about datasets, files of the data layer, or Redis;
inputs are plain arrays.
"""
