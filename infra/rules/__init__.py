"""Security and cost policies, one module per concern, registered in `infra.policies`.

Each reads `ResourceRecord`s (one at a time, or the whole plan) and returns `Violation`s; the
wiring invariants, which read the plan as one connected system, are `infra.invariants`.
"""
