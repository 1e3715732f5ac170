"""Mutation testing of the pure modules: `make mutation` (docs/development.md)."""
