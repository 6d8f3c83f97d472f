"""On-disk cache of loaded corpora: one compressed, pickle-free ``.npz`` per corpus slot.

A *slot* is (kind, resolved source folder, style, frame spec): its file lives under
``platformdirs.user_cache_dir("accomp")/corpora`` (or ``$ACCOMP_CACHE_DIR``), so a changed
source overwrites its own file instead of piling up stale ones. Inside, the file records the
*key* it was built for: a hash of the slot, :data:`accomp.config.ENCODER_VERSION`,
:data:`CACHE_FORMAT`, :data:`accomp.music.labels.LABELS_VERSION` and a fingerprint of the
source (file names, sizes, mtimes; the music21 version for the chorales). A file with another
key, or one that cannot be read, is ignored and rebuilt.

A *pack* (``accomp data pack``) is the same file plus an ``origin`` in ``meta``: it is read
by path, whatever its key, so a corpus can travel to a machine without its source files
(or music21), e.g. a GPU box for teacher training.

Layout: per role ``roll<i>`` is the concatenation of every piece's roll, bit-packed along the
key axis ``(S, 2, ceil(K/8))``; ``vel_idx<i>``/``vel_val<i>`` the non-zero velocities of the
flattened ``(S, K)`` velocity array; ``beat_in_bar`` ``(S,)``; ``chords`` ``(S,)`` the chord label
per step (:mod:`accomp.music.chords`; packs made before it are labelled by template on load); ``offsets`` ``(P+1,)`` the
first step of each piece; ``meta`` one JSON string with the key, roles, piece ids, styles,
tempo maps, meters and the skipped files with their reasons.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np
import platformdirs

from accomp.config import ENCODER_VERSION, FrameSpec
from accomp.files import replacing
from accomp.music.frames import Piece
from accomp.music.labels import LABELS_VERSION, label_by_template, piece_chords

CACHE_FORMAT = 2  # bump when the file layout above changes
CACHE_ENV = "ACCOMP_CACHE_DIR"
_UNREADABLE = (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile, zlib.error)


def cache_dir() -> Path:
    override = os.environ.get(CACHE_ENV)
    return Path(override) if override else Path(platformdirs.user_cache_dir("accomp")) / "corpora"


def _digest(obj: object) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True).encode("utf-8")).hexdigest()


def cache_path(kind: str, source: str, style: str, spec: FrameSpec) -> Path:
    slot = _digest({"kind": kind, "source": source, "style": style, "spec": spec.to_dict()})[:16]
    safe_style = "".join(c if c.isalnum() or c in "-_" else "_" for c in style)[:40]
    return cache_dir() / f"{kind}-{safe_style}-{slot}.npz"


def cache_key(kind: str, source: str, style: str, spec: FrameSpec, fingerprint: object) -> str:
    return _digest(
        {
            "kind": kind,
            "source": source,
            "style": style,
            "spec": spec.to_dict(),
            "encoder": ENCODER_VERSION,
            "format": CACHE_FORMAT,
            "labels": LABELS_VERSION,
            "fingerprint": fingerprint,
        }
    )


def save_corpus(path: Path, key: str, pieces: list[Piece], skipped: list[tuple[str, str]], *, origin: dict | None = None) -> None:
    """Write atomically (:mod:`accomp.files`); raises OSError on failure.
    ``origin`` (what the pieces were read from) makes the file a corpus *pack*."""
    roles = list(pieces[0].tracks)
    if any(list(p.tracks) != roles for p in pieces):
        raise ValueError("every cached piece must have the same roles")
    n_keys = pieces[0].spec.n_keys
    arrays: dict[str, np.ndarray] = {
        "offsets": np.cumsum([0] + [p.n_steps for p in pieces]).astype(np.int64),
        "beat_in_bar": np.concatenate([p.beat_in_bar for p in pieces]).astype(np.int16),
        "chords": np.concatenate([piece_chords(p) for p in pieces]).astype(np.int16),
    }
    for i, role in enumerate(roles):
        arrays[f"roll{i}"] = np.concatenate([np.packbits(p.tracks[role] > 0, axis=-1) for p in pieces])
        vel = np.concatenate(
            [p.velocity.get(role, np.zeros((p.n_steps, n_keys), np.uint8)).ravel() for p in pieces]
        )
        idx = np.flatnonzero(vel)
        arrays[f"vel_idx{i}"] = idx.astype(np.int64)
        arrays[f"vel_val{i}"] = vel[idx].astype(np.uint8)
    meta = {
        "key": key,
        "roles": roles,
        "spec": pieces[0].spec.to_dict(),
        "pieces": [
            {"id": p.piece_id, "style": p.style, "tempos": p.tempos, "meters": p.meters,
             "chord_source": p.chord_source, "chords_mapped": p.chords_mapped}
            for p in pieces
        ],
        "skipped": [list(s) for s in skipped],
    }
    if origin is not None:
        meta["origin"] = origin
    arrays["meta"] = np.array(json.dumps(meta))
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)


def load_corpus_cache(path: Path, key: str) -> tuple[list[Piece], list[tuple[str, str]]] | None:
    """The pieces and skipped files stored under ``key``, or None (missing, stale, corrupt)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("key") != key:
                return None
            return _unpack(data, meta)
    except (*_UNREADABLE, json.JSONDecodeError):
        return None


def load_pack(path: Path) -> tuple[dict, list[Piece], list[tuple[str, str]]]:
    """(origin, pieces, skipped) of a corpus pack written by ``accomp data pack``, whatever
    folder or machine it was made on; raises ValueError with the reason it cannot be used."""
    problem, pieces, skipped = None, [], []
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            origin = meta.get("origin") if isinstance(meta, dict) else None
            if not isinstance(origin, dict):
                problem = "not a corpus pack (a cache file or another .npz)"
            elif origin.get("encoder") != ENCODER_VERSION:
                problem = f"packed by frame encoder {origin.get('encoder')}, this accomp has {ENCODER_VERSION}: pack it again"
            else:
                pieces, skipped = _unpack(data, meta)
    except (*_UNREADABLE, json.JSONDecodeError) as exc:
        raise ValueError(f"not a corpus pack (unreadable as one: {type(exc).__name__})") from None
    if problem:
        raise ValueError(problem)
    if not pieces:
        raise ValueError("holds no pieces")
    return origin, pieces, skipped


def _unpack(data: np.lib.npyio.NpzFile, meta: dict) -> tuple[list[Piece], list[tuple[str, str]]]:
    spec = FrameSpec.from_dict(meta["spec"])
    offsets = data["offsets"]
    total = int(offsets[-1])
    beats = data["beat_in_bar"]
    chords = data["chords"].astype(np.int64) if "chords" in data.files else None  # packs made before chord labels
    rolls, vels = [], []
    for i in range(len(meta["roles"])):
        rolls.append(np.unpackbits(data[f"roll{i}"], axis=-1, count=spec.n_keys))
        vel = np.zeros(total * spec.n_keys, dtype=np.uint8)
        vel[data[f"vel_idx{i}"]] = data[f"vel_val{i}"]
        vels.append(vel.reshape(total, spec.n_keys))
    if len(meta["pieces"]) != len(offsets) - 1 or any(r.shape[0] != total for r in rolls):
        raise ValueError("cache arrays do not match their index")
    pieces = []
    for j, info in enumerate(meta["pieces"]):
        s, e = int(offsets[j]), int(offsets[j + 1])
        pieces.append(
            Piece(
                piece_id=info["id"],
                style=info["style"],
                spec=spec,
                tracks={role: rolls[i][s:e] for i, role in enumerate(meta["roles"])},
                velocity={role: vels[i][s:e] for i, role in enumerate(meta["roles"])},
                beat_in_bar=beats[s:e],
                tempos=[(float(b), int(us)) for b, us in info["tempos"]],
                meters=[(float(b), int(n), int(d)) for b, n, d in info["meters"]],
                chords=None if chords is None else chords[s:e],
                chord_source=str(info.get("chord_source", "")),
                chords_mapped=int(info.get("chords_mapped", 0)),
            )
        )
        if chords is None:
            label_by_template(pieces[-1])
    return pieces, [(str(a), str(b)) for a, b in meta["skipped"]]
