"""The real-time floor: what callbacks and the engine's threads stand on.

Lock-free rings (:mod:`~accomp.realtime.rings`, with :func:`~accomp.realtime.rings.earliest`,
the one "which ring is due first" helper), sample clocks (:mod:`~accomp.realtime.clock`) and
MIDI codes with the active-notes table (:mod:`~accomp.realtime.notes`). Numpy only: it imports
nothing else of accomp, and ``devices``, ``synth``, ``listen`` and ``engine`` all build on it.
"""
