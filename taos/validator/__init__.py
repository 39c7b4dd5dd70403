"""The validator: queries miners, validates their replies, assigns latency and
schedules accepted instructions into the simulation."""
