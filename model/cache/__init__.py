"""The cache format shared by the offline refresh job and the online service: key schema and value codec."""
