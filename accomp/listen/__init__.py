"""Listening: audio input (guitar, voice, any instrument) -> the lead notes MIDI input gives,
and a band that follows the player's tempo (MIDI or audio).

- :mod:`accomp.listen.conditioning`: input gain, DC / rumble / hum filters, level meters.
- :mod:`accomp.listen.biquads`: those filters' design, and a cascade of them run block by block.
- :mod:`accomp.listen.features`: pitch (YIN, and a first guess from short frames), onset strength
  (spectral flux), chroma.
- :mod:`accomp.listen.analyzer`: the streaming analyser that turns audio into lead note events.
- :mod:`accomp.listen.follow`: tempo and beat-phase tracking from onsets, follow mode, tap tempo.
- :mod:`accomp.listen.live`: the analysis thread fed by the audio callback's ring.
- :mod:`accomp.listen.offline`: audio files through the same analyser in simulated time.

Nothing here runs in an audio callback: the callback only copies input blocks into a ring.
"""
