"""Batch jobs and their command line: prepare data, train, evaluate, refresh the cache.

Imports `model`, never `service`.
"""
