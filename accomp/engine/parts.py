"""The parts an engine plays, as indices: the synth's channels (its DEFAULT_PARTS follow this
order), the record ring's ``part`` field and the recording's tracks; and how a part writes
to the record ring."""

from collections.abc import Callable

LEAD, ACCOMP, CLICK, BASS, DRUMS = 0, 1, 2, 3, 4
Record = Callable[[int, int, int, int, int], None]  # (time, part, status, data1, data2)
