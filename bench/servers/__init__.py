"""Baseline broadcast servers, each a standalone process driven by JSON lines on stdin."""
