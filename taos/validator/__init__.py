"""The validator: steps the simulation, queries miners, scores them and sets weights."""
