"""The conformance suite shipped in kernels.conformance, run here for every registered backend
(the `backend` / `candidate` fixtures come from kernels.conformance.plugin, loaded by
tests/conftest.py). `python -m kernels verify NAME` runs the same tests for one backend."""

from kernels.conformance import suite_tests

globals().update(suite_tests())
