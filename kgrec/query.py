"""Compatibility name: the query parser lives in :mod:`kgrec.serve.query`."""

from kgrec.serve.query import ParsedQuery, QueryParser, normalize

__all__ = ["ParsedQuery", "QueryParser", "normalize"]
