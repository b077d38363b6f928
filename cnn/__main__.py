"""python -m cnn {train,evaluate,predict} ...: see cnn.cli."""
import signal
import sys

from .cli import main

if hasattr(signal, "SIGPIPE"):  # `... | head` ends the output quietly, as other tools do
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)

sys.exit(main())
