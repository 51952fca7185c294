"""The ``record`` job: wrap the user's build command, watch the builder, write one capture.

- ``argv``: recognise the build command and add only the flags cachetrace needs.
- ``child``: run it with stdio passed through, signals forwarded, exit code kept.
- ``cache_export``: read a local cache export (records, layers) into the model.
- ``watch``: follow BuildKit history and Status while the child runs.
- ``collect``: after the child: history record, provenance, cache keys, layers -> ``Build``.
- ``job``: the whole job, from argv to a capture file.
"""
