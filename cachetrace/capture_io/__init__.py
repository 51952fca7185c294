"""Reading and writing capture files (orjson, schema version, atomic write, redaction).

- ``codec``: model dataclasses <-> JSON-able values, driven by type hints.
- ``redact``: the redaction policy applied to everything written.
- ``files``: ``write_capture`` / ``load_capture`` with the schema version and atomic rename.
- ``schema``: the JSON Schema of capture files, generated from the model.
"""
