"""The cache refresh job: generate every user's top-K with the model artifact and write it to Redis.

`job.py` runs a refresh (full, listed users, or incremental), `lock.py` keeps two refreshes from running at once,
`checkpoint.py` lets a killed full refresh continue, `metrics.py` reports to Prometheus / a Pushgateway.
"""
