"""Judging: what the measurements mean - the tables' derived columns, the speed targets and
how each reads its figure, shares of the measured peak, the regression gate and its
statistics, and machines set side by side. Above measuring, below output and the commands."""
