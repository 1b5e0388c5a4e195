"""Datasets: canonical typed records, loaders for each source, processed-folder I/O and the leave-one-out split."""
