"""Bach chorales from music21's bundled corpus: soprano -> ``lead``, alto+tenor+bass -> ``accomp``.

Notes are taken straight from music21's offsets (quarter lengths, ties merged) into a
:class:`~accomp.music.frames.Score` at :data:`TICKS_PER_BEAT`, then laid on the grid by the
same :func:`~accomp.music.frames.score_to_piece` the MIDI corpora use. A pickup bar keeps its
place in the bar: everything is shifted right by the pickup's missing part (music21's
``paddingLeft``), so the first full bar starts on a downbeat. The scores carry no tempo, so
the MIDI default (120 bpm) applies unless a metronome mark says otherwise.

music21 is imported only when a chorale is actually parsed, so a cache hit never pays for it.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

from accomp.config import ACCOMP, LEAD, FrameSpec
from accomp.errors import CorpusError, MidiFileError
from accomp.music.frames import Note, Piece, Score, SourceTrack, score_to_piece

if TYPE_CHECKING:
    import music21.stream

TICKS_PER_BEAT = 3840  # divisible by 2..6, 8, 10, 12, 16: tuplets land on whole ticks
DEFAULT_TEMPO = 500_000  # us per quarter, the MIDI default
SCORE_SUFFIXES = (".mxl", ".xml", ".musicxml", ".krn")  # preferred first when a stem repeats
CHORALE_VELOCITY = 80


def music21_version() -> str:
    return importlib.metadata.version("music21")


def chorale_folder() -> Path:
    """music21's ``corpus/bach`` folder, found without importing music21."""
    spec = importlib.util.find_spec("music21")
    if spec is None or not spec.submodule_search_locations:
        raise CorpusError("music21 is not installed: the chorales corpus needs it")
    folder = Path(next(iter(spec.submodule_search_locations))) / "corpus" / "bach"
    if not folder.is_dir():
        raise CorpusError(f"music21's bundled corpus has no Bach folder ({folder})")
    return folder


def chorale_files(folder: Path) -> list[Path]:
    """The score files of the Bach folder, one per name (MusicXML preferred to Humdrum).

    The Roman-numeral analyses (``.rntxt``) are not scores and are left out.
    """
    best: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        suffix = path.suffix.lower()
        if suffix not in SCORE_SUFFIXES or not path.is_file():
            continue
        held = best.get(path.stem)
        if held is None or SCORE_SUFFIXES.index(suffix) < SCORE_SUFFIXES.index(held.suffix.lower()):
            best[path.stem] = path
    return [best[stem] for stem in sorted(best)]


def chorale_to_piece(path: Path, spec: FrameSpec, style: str, piece_id: str) -> Piece:
    """Parse one chorale file; a score music21 cannot read raises MidiFileError."""
    from music21 import converter
    from music21.exceptions21 import Music21Exception

    try:
        score = converter.parse(path)
    except (Music21Exception, OSError, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise MidiFileError(f"music21 cannot parse it ({type(exc).__name__}: {exc})") from None
    return music21_score_to_piece(score, spec, style, piece_id)


def music21_score_to_piece(score: "music21.stream.Score", spec: FrameSpec, style: str, piece_id: str) -> Piece:
    """A four-part music21 ``Score`` as a piece; anything but four parts raises MidiFileError."""
    from music21 import meter, stream, tempo

    parts = list(score.parts)
    if len(parts) != 4:
        raise MidiFileError("not 4 parts")
    first_bar = parts[0].getElementsByClass(stream.Measure).first()
    pad = float(first_bar.paddingLeft) if first_bar is not None else 0.0

    def tick(offset: float) -> int:
        return round((float(offset) + pad) * TICKS_PER_BEAT)

    tracks = []
    for index, part in enumerate(parts):
        notes = []
        for n in part.stripTies().flatten().notes:
            start, end = tick(n.offset), tick(n.offset + n.quarterLength)
            if end > start:  # grace notes have no duration
                notes.extend(Note(start, end, pitch.midi, CHORALE_VELOCITY, index) for pitch in n.pitches)
        tracks.append(SourceTrack(index, part.partName or f"part {index + 1}", sorted(notes, key=lambda x: x.start)))
    if not tracks[0].notes:
        raise MidiFileError("the soprano has no notes")

    flat = parts[0].flatten()
    meters = [(tick(ts.offset), ts.numerator, ts.denominator) for ts in flat.getElementsByClass(meter.TimeSignature)]
    marks = [(tick(mm.offset), mm.getQuarterBPM()) for mm in score.flatten().getElementsByClass(tempo.MetronomeMark)]
    tempos = [(t, round(60e6 / bpm)) for t, bpm in marks if bpm]
    meters = _first_at_zero(meters, (0, 4, 4))  # the pickup's shift must not start a new bar
    tempos = _first_at_zero(tempos, (0, DEFAULT_TEMPO))
    end_tick = max((n.end for t in tracks for n in t.notes), default=0)
    source = Score(TICKS_PER_BEAT, tracks, tempos, meters, end_tick)
    return score_to_piece(source, {LEAD: tracks[:1], ACCOMP: tracks[1:]}, spec, piece_id, style)


def _first_at_zero(events: list[tuple], default: tuple) -> list[tuple]:
    """Sorted events with the first one moved to tick 0 (``default`` when there are none)."""
    events = sorted(events, key=lambda e: e[0])
    if not events:
        return [default]
    return [(0, *events[0][1:])] + [e for e in events[1:] if e[0] > 0]
