"""Reference recommenders the generative model is measured against: Popularity and SASRec."""
