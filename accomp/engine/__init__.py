"""The real-time engine: clock, rings, transport, scheduler, recorder; live or simulated time."""
