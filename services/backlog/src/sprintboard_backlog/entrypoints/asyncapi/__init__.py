"""The backlog's AsyncAPI document: generated from a FastStream declaration, committed, served as files."""

from pathlib import Path

DOCUMENT_DIR = Path(__file__).resolve().parent
JSON_DOCUMENT = DOCUMENT_DIR / "asyncapi.json"
HTML_DOCUMENT = DOCUMENT_DIR / "asyncapi.html"
