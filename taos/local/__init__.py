"""Offline research mode: a whole market on one machine (SPEC §13)."""
