"""Wiring invariants: policies that read the plan as one connected system (see `topology`)."""
