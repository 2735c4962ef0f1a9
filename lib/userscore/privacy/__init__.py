"""Privacy: consent that stages honour, and erasure of a data subject from every layer (docs/privacy.md)."""
