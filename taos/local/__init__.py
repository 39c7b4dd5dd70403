"""Offline research mode (SPEC §13): whole markets on this machine or on a Ray cluster, no chain
needed: ``taos local``, ``taos sweep`` and ``RaySimulation``."""
