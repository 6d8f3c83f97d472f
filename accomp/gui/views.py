"""Live views, redrawn by the window's timer (30-60 Hz) from the engine's rings and logs,
never per audio block: a scrolling piano roll of the lead and the accompaniment, input and
output waveforms, and the latency view (model step time and note-to-sound latency over
time with its parts, a histogram, xruns).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QWidget

from accomp.gui.player import NO_LABEL, ROLL_STEPS, STEP_LOG, ObservedPlayer
from accomp.music.chords import chord_name
from accomp.music.metrics import estimate_key
from accomp.gui.theme import ACCENT, ACCOMP, MUTED, PANEL, TEXT

VISIBLE_STEPS = 128  # 8 bars of 16th notes
MAX_LABELS = 32  # chord names shown on the piano roll (the latest changes)
LABEL_GAP = 6  # steps: a chord change closer than this to a later named one goes unnamed
SCOPE_FRAMES = 2048
SCOPE_STEP = 8  # plot every 8th sample
NOTES_KEPT = 200
STEPS_SHOWN = 128  # the last 8 bars of model steps
HIST_MAX_MS = 60  # the histogram's first range; it widens in steps of this to hold the slowest note
HIST_BINS = 60
LEGEND_ROOM = 1.6  # the latency timeline's height over its highest value: the top is the legend's
NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


def _lut() -> np.ndarray:
    """Colour of a cell ``lead + 3 * accomp`` (each 0 silent, 1 sounding, 2 struck), and of
    the same plus 9 on the rows of the Cs (a lighter background: the octaves, drawn in the
    image itself, since a plot grid costs a redraw of its own)."""
    bg = pg.mkColor(PANEL).getRgb()
    lead, acc = pg.mkColor(ACCENT).getRgb(), pg.mkColor(ACCOMP).getRgb()

    def mix(colour, weight):
        return [round(bg[i] * (1 - weight) + colour[i] * weight) for i in range(3)] + [255]

    lut = np.zeros((18, 4), dtype=np.uint8)
    for lead_v in range(3):
        for acc_v in range(3):
            colour = mix(lead, (0, 0.7, 1.0)[lead_v]) if lead_v else mix(acc, (0, 0.55, 0.9)[acc_v])
            lut[lead_v + 3 * acc_v] = lut[9 + lead_v + 3 * acc_v] = colour
    lut[9] = mix((255, 255, 255), 0.06)
    return lut


def recent_key(player: ObservedPlayer, lowest_pitch: int = 21, steps: int = 64) -> str | None:
    """The key of the last ``steps`` steps of lead and accompaniment, e.g. 'G major'; None
    when the lead has not sounded in them (nobody plays: the display holds what it showed,
    rather than wandering with the band's chords)."""
    last = player.last_step
    if last < 0:
        return "key –"
    rows = np.arange(max(0, last - steps + 1), last + 1) % ROLL_STEPS
    lead = (player.lead[rows] > 0).sum(axis=0)
    if lead.sum() == 0:
        return None
    sounding = lead + (player.accomp[rows] > 0).sum(axis=0)
    hist = np.bincount((np.arange(sounding.size) + lowest_pitch) % 12, weights=sounding, minlength=12)
    tonic, mode = estimate_key(hist)
    return f"{NAMES[tonic]} {mode}"


class PianoRoll(pg.PlotWidget):
    def __init__(self, parent: QWidget | None = None, lowest_pitch: int = 21, n_keys: int = 88) -> None:
        super().__init__(parent)
        self.setObjectName("pianoRoll")
        self.setMenuEnabled(False)
        self.setMouseEnabled(False, False)
        self.hideButtons()
        self.setTitle("Lead (amber) and accompaniment (cyan), last 8 bars, with the band's chords", color=MUTED, size="10pt")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setLookupTable(_lut())
        self.image.setLevels([0, 17])
        self.addItem(self.image)
        self.disableAutoRange()
        self.setXRange(-VISIBLE_STEPS, 0, padding=0)
        self.setYRange(lowest_pitch + 12, lowest_pitch + n_keys - 12, padding=0)
        left = self.getAxis("left")
        left.setTicks([[(p, f"C{p // 12 - 1}") for p in range(24, 109, 12)]])
        bottom = self.getAxis("bottom")
        bottom.setTicks([[(-s, f"-{s // 16} bar" if s else "now") for s in range(0, VISIBLE_STEPS + 1, 32)]])
        self._rows = np.zeros(VISIBLE_STEPS, dtype=np.int64)
        self._lead = np.zeros((VISIBLE_STEPS, n_keys), dtype=np.uint8)
        self._acc = np.zeros((VISIBLE_STEPS, n_keys), dtype=np.uint8)
        self._cells = np.zeros((n_keys, VISIBLE_STEPS), dtype=np.uint8)
        self._c_rows = (((np.arange(n_keys) + lowest_pitch) % 12 == 0) * 9).astype(np.uint8)[:, None]
        self._shown = (None, -2)
        self._top = lowest_pitch + n_keys - 12
        self._chords = np.full(VISIBLE_STEPS, NO_LABEL, dtype=np.int64)
        self.labels = []  # the chord names over the roll, made once and moved
        for _ in range(MAX_LABELS):
            label = pg.TextItem("", color=TEXT, anchor=(0, 0))
            label.setZValue(10)
            label.hide()
            self.addItem(label)
            self.labels.append(label)
        self.clear_roll()
        self.image.setRect(-VISIBLE_STEPS, lowest_pitch - 0.5, VISIBLE_STEPS, n_keys)  # after the first image

    def clear_roll(self) -> None:
        self._cells[:] = self._c_rows
        self.image.setImage(self._cells, autoLevels=False)
        self._shown = (None, -2)
        for label in self.labels:
            label.hide()

    def update_from(self, player: ObservedPlayer | None) -> None:
        if player is None:
            return
        last = player.last_step
        if (id(player), last) == self._shown:
            return
        self._shown = (id(player), last)
        steps = np.arange(last - VISIBLE_STEPS + 1, last + 1)
        np.remainder(steps, ROLL_STEPS, out=self._rows)
        np.take(player.lead, self._rows, axis=0, out=self._lead)
        np.take(player.accomp, self._rows, axis=0, out=self._acc)
        self._lead[steps < 0] = 0
        self._acc[steps < 0] = 0
        np.multiply(self._acc, 3, out=self._acc)
        np.add(self._lead, self._acc, out=self._lead)
        np.add(self._lead.T, self._c_rows, out=self._cells)
        self.image.setImage(self._cells, autoLevels=False)
        self._label_chords(player, steps)

    def _label_chords(self, player: ObservedPlayer, steps: np.ndarray) -> None:
        """Name each chord where it starts, along the top of the roll (the latest ones)."""
        np.take(player.chord_of, self._rows, out=self._chords)
        self._chords[steps < 0] = NO_LABEL
        starts = np.flatnonzero((self._chords != NO_LABEL) & (self._chords != np.roll(self._chords, 1)))
        kept: list[int] = []
        for at in starts[::-1]:  # from the newest back; names closer than LABEL_GAP steps would overlap
            if not kept or kept[-1] - at >= LABEL_GAP:
                kept.append(int(at))
        starts = kept[: len(self.labels)][::-1]
        for i, label in enumerate(self.labels):
            if i < len(starts):
                at = int(starts[i])
                label.setText(chord_name(int(self._chords[at])))
                label.setPos(at - VISIBLE_STEPS + 1, self._top)
                label.show()
            else:
                label.hide()


class Waveforms(pg.PlotWidget):
    """The last ~40 ms of audio in (amber) and out (cyan)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("waveforms")
        self.setMenuEnabled(False)
        self.setMouseEnabled(False, False)
        self.hideButtons()
        self.setTitle("Audio in / out", color=MUTED, size="10pt")
        self.disableAutoRange()
        self.setYRange(-1, 1, padding=0.05)
        self.setXRange(0, SCOPE_FRAMES, padding=0)
        self.getAxis("bottom").setStyle(showValues=False)
        x = np.arange(0, SCOPE_FRAMES, SCOPE_STEP)
        self._x = x
        self._out = np.zeros((SCOPE_FRAMES, 2), dtype=np.float32)
        self._in = np.zeros((SCOPE_FRAMES, 2), dtype=np.float32)
        self._chunk = np.zeros((SCOPE_FRAMES, 2), dtype=np.float32)
        self.curve_in = self.plot(x, np.zeros(len(x)), pen=pg.mkPen(ACCENT, width=1))
        self.curve_out = self.plot(x, np.zeros(len(x)), pen=pg.mkPen(ACCOMP, width=1))

    def _drain(self, ring, scope: np.ndarray) -> bool:
        """Read everything new from ``ring``; keep the latest SCOPE_FRAMES in ``scope``."""
        moved = False
        chunk = self._chunk[:, : ring.channels] if ring.channels <= 2 else None
        if chunk is None:
            return False
        while True:
            n = ring.read(chunk)
            if n == 0:
                return moved
            moved = True
            scope[:-n] = scope[n:]
            scope[-n:, : ring.channels] = chunk[:n]

    def update_from(self, session) -> None:
        if session is None:
            return
        if self._drain(session.output_monitor, self._out):
            self.curve_out.setData(self._x, self._out[::SCOPE_STEP, 0])
        if session.input_monitor is not None and self._drain(session.input_monitor, self._in):
            self.curve_in.setData(self._x, self._in[::SCOPE_STEP, 0])

    def clear_scope(self) -> None:
        self._out[:] = 0
        self._in[:] = 0
        self.curve_out.setData(self._x, self._out[::SCOPE_STEP, 0])
        self.curve_in.setData(self._x, self._in[::SCOPE_STEP, 0])


class LatencyView(QWidget):
    """Model step time per decision; per lead note, note-to-sound latency and its parts
    (wait for the step, model step and scheduling, audio buffer); a histogram; xruns."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        self.timeline = pg.PlotWidget(self)
        self.timeline.setObjectName("latencyTimeline")
        self.timeline.setTitle("Latency (ms) by bar", color=MUTED, size="10pt")
        # Two columns at the top, see-through; the y range leaves room above the curves for it.
        self.timeline.addLegend(offset=(5, 2), labelTextColor=TEXT, colCount=2, verSpacing=-6)
        self.timeline.setMouseEnabled(False, False)
        self.timeline.hideButtons()
        self.timeline.disableAutoRange()
        self.step_curve = self.timeline.plot(pen=pg.mkPen(MUTED, width=1), name="model step")
        self.total_curve = self.timeline.plot(pen=pg.mkPen(ACCENT, width=2), name="note → sound")
        self.wait_curve = self.timeline.plot(pen=pg.mkPen(ACCOMP, width=1), name="wait for step")
        self.buffer_curve = self.timeline.plot(pen=pg.mkPen("#9b6cf0", width=1, style=pg.QtCore.Qt.PenStyle.DashLine), name="audio buffer")
        self.histogram = pg.PlotWidget(self)
        self.histogram.setObjectName("latencyHistogram")
        self.histogram.setTitle("Note → sound (ms)", color=MUTED, size="10pt")
        self.histogram.setMouseEnabled(False, False)
        self.histogram.hideButtons()
        self.histogram.disableAutoRange()
        self._hist_range = 0.0
        self.bins = np.zeros(HIST_BINS + 1)
        self._fit_hist_range(HIST_MAX_MS)
        self.hist_curve = self.histogram.plot(self.bins, np.zeros(len(self.bins) - 1), stepMode="center",
                                              fillLevel=0, brush=pg.mkBrush(ACCENT), pen=pg.mkPen(ACCENT))  # fmt: skip
        self.stats = QLabel("–", self)
        self.stats.setObjectName("latencyStats")
        self.stats.setWordWrap(True)
        self.stats.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.stats.setMinimumHeight(7 * self.stats.fontMetrics().lineSpacing())
        grid.addWidget(self.timeline, 0, 0, 2, 1)
        grid.addWidget(self.histogram, 0, 1)
        grid.addWidget(self.stats, 1, 1)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)
        self.reset()

    def reset(self) -> None:
        self._seen = 0  # engine latency log rows read
        self._decisions = -1
        self._parts = np.zeros((0, 5))  # per note heard: bar, total, wait, model+slack, buffer (ms)
        self._stats = ""
        self._range = (0, 0.0)  # (first bar shown, top in ms)
        self._hist_top = 0
        self._fit_histogram(0)
        self._fit_hist_range(0.0)
        self.hist_curve.setData(self.bins, np.zeros(len(self.bins) - 1))
        for curve in (self.step_curve, self.total_curve, self.wait_curve, self.buffer_curve):
            curve.setData([], [])
        self._fit(1.0, np.zeros(0))  # the first 8 bars, 0-20 ms

    def update_from(self, session, player: ObservedPlayer | None, *, text: bool = True) -> None:
        """Curves from the logs; the figures too when ``text`` (a few times a second is plenty)."""
        if session is None:
            return
        bar_steps = session.engine.transport.steps_per_bar
        if player is not None and player.decisions != self._decisions:
            self._decisions = n = player.decisions
            count = min(n, STEPS_SHOWN, STEP_LOG)
            idx = np.arange(n - count, n) % STEP_LOG
            bars = player.step_of[idx] / bar_steps + 1
            self.step_curve.setData(bars, player.step_ms[idx])
            self._fit(bars[-1] if count else 1.0, player.step_ms[idx])
        engine = session.engine
        if engine.latency.count != self._seen:
            self._read_notes(engine, session)
        if text:
            figures = self._summary(engine, session.audio)
            if figures != self._stats:
                self._stats = figures
                self.stats.setText(figures)

    def _fit(self, last_bar: float, step_ms: np.ndarray) -> None:
        """The last 8 bars, moved a whole bar at a time; the height in 20 ms stages. (Changing
        a plot's range redraws its axes and curves: not on every frame.)"""
        bar = int(last_bar)
        recent = self._parts[self._parts[:, 0] >= last_bar - STEPS_SHOWN / 16, 1] if len(self._parts) else step_ms
        highest = max(float(np.max(recent, initial=0.0)), float(np.max(step_ms, initial=0.0)), 1.0)
        top = 20.0 * np.ceil(LEGEND_ROOM * highest / 20.0)
        if (bar, top) != self._range:
            self._range = (bar, top)
            self.timeline.setRange(xRange=(max(1, bar - 7), max(bar + 1, 9)), yRange=(0, top), padding=0.02)

    def _fit_histogram(self, highest: int) -> None:
        """Counts from 0 up, in steps of 4 (a range change redraws the axes)."""
        top = 4 * max(1, -(-highest // 4))
        if top != self._hist_top:
            self._hist_top = top
            self.histogram.setYRange(0, top, padding=0.05)

    def _read_notes(self, engine, session) -> None:
        rows, self._seen = engine.latency.since(self._seen)
        rows = rows[rows["audible"] > 0]  # notes followed by silence had nothing to hear
        if len(rows):
            t = engine.transport
            sr = engine.settings.sample_rate
            buffer_ms = 1000 * (session.audio.output_latency_s if session.audio else 0.0)
            bars = np.array([t.position(note) / t.steps_per_bar + 1 for note in rows["note"]])
            wait = (rows["decided"] - rows["note"]) / sr * 1000
            model = (rows["sounds_at"] - rows["decided"]) / sr * 1000
            new = np.column_stack([bars, wait + model + buffer_ms, wait, model, np.full(len(rows), buffer_ms)])
            self._parts = np.concatenate([self._parts, new])[-NOTES_KEPT:]
        if len(self._parts):
            recent = self._parts[self._parts[:, 0] >= self._parts[-1, 0] - STEPS_SHOWN / 16]
            self.total_curve.setData(recent[:, 0], recent[:, 1])
            self.wait_curve.setData(recent[:, 0], recent[:, 2])
            self.buffer_curve.setData(recent[:, 0], recent[:, 4])
            self.show_histogram(self._parts[:, 1])

    def show_histogram(self, total_ms: np.ndarray) -> None:
        """The histogram of note-to-sound times, its range wide enough for the slowest note
        (in steps of :data:`HIST_MAX_MS`), so a slow note shows where it was, not piled at the end."""
        self._fit_hist_range(float(np.max(total_ms, initial=0.0)))
        hist, _ = np.histogram(np.clip(total_ms, 0, None), self.bins)
        self.hist_curve.setData(self.bins, hist)
        self._fit_histogram(int(hist.max()))

    def _fit_hist_range(self, highest_ms: float) -> None:
        top = HIST_MAX_MS * max(1, int(np.ceil(highest_ms / HIST_MAX_MS)))
        if top != self._hist_range:
            self._hist_range = top
            self.bins = np.linspace(0.0, top, HIST_BINS + 1)
            self.histogram.setXRange(0, top, padding=0.02)

    def _summary(self, engine, audio) -> str:
        lines = [f"xruns {audio.xruns() if audio else 0}"]
        if audio is not None and audio.callbacks:
            load = audio.load()
            lines.append(f"callback load {100 * load.mean():.0f}% (max {100 * load.max():.0f}%)")
        if len(self._parts):
            total = self._parts[:, 1]
            lines.append(f"note → sound p50 {np.percentile(total, 50):.1f}, p99 {np.percentile(total, 99):.1f} ms")
            lines.append(f"  = wait {np.median(self._parts[:, 2]):.1f} + model {np.median(self._parts[:, 3]):.1f}"
                         f" + buffer {self._parts[0, 4]:.1f}")  # fmt: skip
        m = engine.metrics()
        lines.append(f"steps {m.steps} (+{m.redos} re-decided)")
        if m.chord_waits_out:
            lines.append(f"beats struck late, no lead note or chord: {m.chord_waits_out}")
        lines.append(f"model step p99 {m.step_ms_p99:.1f} ms")
        delay = getattr(getattr(engine.player, "inner", engine.player), "delay", None)  # the student's, in steps
        if delay is not None:
            t = engine.transport
            late = f" (+{delay * 60000 / t.tempo / t.settings.steps_per_beat:.0f} ms)" if delay else ""
            lines.append(f"model look-ahead {delay} steps{late}")
        return "\n".join(lines)
