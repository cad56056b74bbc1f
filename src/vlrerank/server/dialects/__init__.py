"""The request and response shapes of other rerank APIs, each translated to and from the one
rerank service (no dialect scores anything itself)."""
