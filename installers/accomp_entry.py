"""The frozen app's entry point (PyInstaller, every platform): ``accomp [COMMAND] ...``.

The same as ``python -m accomp``, with two things only a frozen app needs:

- The window's "Distill new style" dialog starts ``sys.executable -m accomp distill ...``.
  In a frozen app ``sys.executable`` is this program, which has no ``-m``: the leading
  ``-m accomp`` is dropped, so the run is ``accomp distill ...`` of the same bundle.
- ``multiprocessing.freeze_support()``, so that a child process started by a library
  (torch, joblib) runs its task instead of a second copy of the app.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    if sys.argv[1:3] == ["-m", "accomp"]:
        del sys.argv[1:3]
    from accomp.cli import main

    raise SystemExit(main())
