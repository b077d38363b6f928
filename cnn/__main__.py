"""python -m cnn {train,evaluate,predict} ...: see cnn.cli."""
import sys

from .cli import main

sys.exit(main())
