"""The service face: REST API and web UI in one FastAPI app (needs ``vlrerank[server]``)."""
