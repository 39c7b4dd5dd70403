"""Offline research mode (SPEC §13): a whole market on one machine and the run folder it writes."""
