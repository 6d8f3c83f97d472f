"""PyInstaller runtime hook: the bundled SoundFont (FluidR3 Mono GM on Linux) is the default sound.

Where the build found the SoundFont it copied it to ``soundfonts/`` in the bundle; this
points ``ACCOMP_SOUNDFONT`` (accomp.synth.soundfont's own setting) at it unless the user
has set it. ``--soundfont FILE`` still wins over both.
"""

import os
import sys
from pathlib import Path

_bundled = sorted((Path(sys._MEIPASS) / "soundfonts").glob("*.sf[23]"))
if _bundled and not os.environ.get("ACCOMP_SOUNDFONT"):
    os.environ["ACCOMP_SOUNDFONT"] = str(_bundled[0])
