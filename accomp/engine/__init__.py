"""The engine: transport, scheduler, recorder, live session and offline driver (on the real-time floor, :mod:`accomp.realtime`)."""
