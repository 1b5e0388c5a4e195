"""Load tests: wrk scripts for cached, uncached and mixed traffic, and the fixed-rate soak
(`python -m loadtest.soak`)."""
