"""The validator: steps the simulation, queries miners, validates their replies, assigns latency,
scores them and sets weights (the loop is in ``taos/validator/loop.py``)."""
