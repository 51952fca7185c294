"""The joined graph of a capture, and the cache-key knowledge it is built from.

``gojson`` (Go ``encoding/json`` bytes), ``exec_key`` (exec CacheMap digests recomputed from the
LLB op) and ``key_view`` (what enters an exec key and what does not) are networkx-free.
"""
