"""The living catalogue: items added to and removed from a trained model artifact without retraining.

The pieces, each in its own module: `state` (what an artifact records about its catalogue's changes:
`catalogue.json`, the one owner of that format), `items_file` (the JSON-lines input of `genrec catalogue add`,
checked line by line), `encode` (a new item's latent vector from its text or its collaborative embedding, through
the tokenizer that made the trained codes), `assign` (collision-free code tuples for those vectors) and `edit` (a
new artifact version with items added or removed). Nothing here knows about Redis, HTTP or training.
"""
