"""Dramatiq actors: `dramatiq actors` runs the hops, `periodiq actors` the clock."""
from actors import broker  # noqa: F401  (sets the broker before any actor exists)
from actors import payments, phases, scheduled, signed, timers, waits  # noqa: F401,E402
from actors import retention  # noqa: F401,E402
