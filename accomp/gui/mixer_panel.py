"""The per-part mixer: a strip per part with its volume and mute: the lead (what you play),
the accompaniment, the bass and the drums with instrument (General MIDI program; the drums'
kit is the SoundFont's) and solo, and the metronome. The rhythm section's strips also say
whether it plays: the bass on or off, the drums' pattern or off (heard from the next step
while playing). Volume, mute and instrument are heard from the next audio block (the synth
picks them up itself).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QGridLayout, QGroupBox, QSlider, QVBoxLayout, QWidget

from accomp.gui.settings import Settings
from accomp.music.band import DRUM_CHOICES

GM_PROGRAMS = (
    "Acoustic Grand Piano|Bright Acoustic Piano|Electric Grand Piano|Honky-tonk Piano|Electric Piano 1|Electric Piano 2|"
    "Harpsichord|Clavinet|Celesta|Glockenspiel|Music Box|Vibraphone|Marimba|Xylophone|Tubular Bells|Dulcimer|"
    "Drawbar Organ|Percussive Organ|Rock Organ|Church Organ|Reed Organ|Accordion|Harmonica|Tango Accordion|"
    "Nylon Guitar|Steel Guitar|Jazz Guitar|Clean Guitar|Muted Guitar|Overdriven Guitar|Distortion Guitar|Guitar Harmonics|"
    "Acoustic Bass|Fingered Bass|Picked Bass|Fretless Bass|Slap Bass 1|Slap Bass 2|Synth Bass 1|Synth Bass 2|"
    "Violin|Viola|Cello|Contrabass|Tremolo Strings|Pizzicato Strings|Orchestral Harp|Timpani|"
    "String Ensemble 1|String Ensemble 2|Synth Strings 1|Synth Strings 2|Choir Aahs|Voice Oohs|Synth Voice|Orchestra Hit|"
    "Trumpet|Trombone|Tuba|Muted Trumpet|French Horn|Brass Section|Synth Brass 1|Synth Brass 2|"
    "Soprano Sax|Alto Sax|Tenor Sax|Baritone Sax|Oboe|English Horn|Bassoon|Clarinet|"
    "Piccolo|Flute|Recorder|Pan Flute|Blown Bottle|Shakuhachi|Whistle|Ocarina|"
    "Square Lead|Sawtooth Lead|Calliope Lead|Chiff Lead|Charang Lead|Voice Lead|Fifths Lead|Bass + Lead|"
    "New Age Pad|Warm Pad|Polysynth Pad|Choir Pad|Bowed Pad|Metallic Pad|Halo Pad|Sweep Pad|"
    "Rain|Soundtrack|Crystal|Atmosphere|Brightness|Goblins|Echoes|Sci-fi|"
    "Sitar|Banjo|Shamisen|Koto|Kalimba|Bagpipe|Fiddle|Shanai|"
    "Tinkle Bell|Agogo|Steel Drums|Woodblock|Taiko Drum|Melodic Tom|Synth Drum|Reverse Cymbal|"
    "Guitar Fret Noise|Breath Noise|Seashore|Bird Tweet|Telephone Ring|Helicopter|Applause|Gunshot"
).split("|")
ROWS = (("lead", "Lead (you)"), ("accomp", "Accompaniment"), ("bass", "Bass"), ("drums", "Drums"), ("click", "Metronome"))
INSTRUMENTS = ("lead", "accomp", "bass")  # parts with a program to choose


class MixerPanel(QWidget):
    changed = Signal(str, dict)  # part name, PartMix fields that changed
    band_changed = Signal(dict)  # Settings fields of the rhythm section that changed (bass, drums)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        column = QVBoxLayout(self)
        column.setContentsMargins(8, 8, 8, 8)
        self.rows: dict[str, dict[str, QWidget]] = {}
        for part, title in ROWS:
            box = QGroupBox(title, self)
            grid = QGridLayout(box)
            widgets: dict[str, QWidget] = {}
            if part in INSTRUMENTS:
                program = QComboBox(box)
                program.setObjectName(f"{part}Program")
                program.addItems([f"{i + 1:3d} {name}" for i, name in enumerate(GM_PROGRAMS)])
                program.setMaxVisibleItems(16)
                program.setMinimumContentsLength(10)
                program.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
                program.currentIndexChanged.connect(lambda i, p=part: self.changed.emit(p, {"program": i}))
                grid.addWidget(program, 0, 0, 1, 2 if part == "bass" else 3)
                widgets["program"] = program
            if part == "bass":
                on = QCheckBox("Play", box)
                on.setObjectName("bassOn")
                on.setToolTip("A bass part on the chord roots, in the drums' feel")
                on.toggled.connect(lambda checked: self.band_changed.emit({"bass": checked}))
                grid.addWidget(on, 0, 2)
                widgets["on"] = on
            if part == "drums":
                pattern = QComboBox(box)
                pattern.setObjectName("drumsPattern")
                pattern.addItems(list(DRUM_CHOICES))
                pattern.setToolTip("Drum pattern (a fill before every phrase), or off; in 3/4 a four-beat pattern plays the waltz, in 6/8 the six-eight")
                pattern.currentTextChanged.connect(lambda name: self.band_changed.emit({"drums": name}))
                grid.addWidget(pattern, 0, 0, 1, 3)
                widgets["pattern"] = pattern
            if part != "click":
                solo = QCheckBox("Solo", box)
                solo.setObjectName(f"{part}Solo")
                solo.toggled.connect(lambda on, p=part: self.changed.emit(p, {"solo": on}))
                grid.addWidget(solo, 1, 2)
                widgets["solo"] = solo
            volume = QSlider(Qt.Orientation.Horizontal, box)
            volume.setObjectName(f"{part}Volume")
            volume.setRange(0, 100)
            volume.setMinimumWidth(60)
            volume.setToolTip("Volume")
            volume.valueChanged.connect(lambda v, p=part: self.changed.emit(p, {"volume": v / 100.0}))
            mute = QCheckBox("Mute", box)
            mute.setObjectName(f"{part}Mute")
            mute.toggled.connect(lambda on, p=part: self.changed.emit(p, {"mute": on}))
            grid.addWidget(volume, 1, 0)
            grid.addWidget(mute, 1, 1)
            grid.setColumnStretch(0, 1)
            widgets.update(volume=volume, mute=mute)
            self.rows[part] = widgets
            column.addWidget(box)
        column.addStretch(1)

    def apply(self, settings: Settings) -> None:
        for part, widgets in self.rows.items():
            mix = settings.mixer[part]
            for widget in widgets.values():
                widget.blockSignals(True)
            if "program" in widgets:
                widgets["program"].setCurrentIndex(mix.program)
            if "solo" in widgets:
                widgets["solo"].setChecked(mix.solo)
            if "on" in widgets:
                widgets["on"].setChecked(settings.bass)
            if "pattern" in widgets:
                widgets["pattern"].setCurrentText(settings.drums)
            widgets["volume"].setValue(round(mix.volume * 100))
            widgets["mute"].setChecked(mix.mute)
            for widget in widgets.values():
                widget.blockSignals(False)
