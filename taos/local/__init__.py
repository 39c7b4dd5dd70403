"""Offline research mode: runs markets on this machine or on a Ray cluster, no chain needed."""
