"""What only tests and benchmarks need: the clean-room reference implementation
(:mod:`vlrerank.testing.reference`) and sentence-transformers as a peer
(:mod:`vlrerank.testing.sentence_transformers_peer`).

The offline checkpoints live in :mod:`vlrerank.checkpoints` (production code: ``serve tiny-random``
needs them).
"""
