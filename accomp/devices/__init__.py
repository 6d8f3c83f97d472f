"""Audio (sounddevice) and MIDI (python-rtmidi) devices, and how to list them."""
