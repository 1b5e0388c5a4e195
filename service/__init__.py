"""The online service: FastAPI app answering GET /users/{id}/recommendations from the Redis cache.

Imports `model`, never `offline`.
"""
