"""The built-in SoundFont synth (tinysoundfont) that renders into the audio buffer."""
