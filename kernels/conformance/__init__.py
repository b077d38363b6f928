"""The conformance suite: what any backend must do to be a `kernels.Backend`, as pytest tests
that ship with the package.

    python -m kernels verify NAME [--quick] [--json FILE]     # a table by category
    pytest -p kernels.conformance.plugin --pyargs kernels.conformance --convbench-backend NAME

The project's own test run uses the same tests for every registered backend (tests/conftest.py
loads the plugin, tests/test_kernels/test_conformance_suite.py collects `SUITE`).

Categories, one or more test modules each (`CATEGORY` in the module):
    grid          a grid of conv and pool configurations against the naive reference
    properties    Hypothesis: random valid configurations against the naive reference
    oracles       SciPy's direct correlation and (when installed) PyTorch with autograd
    passes apart  each backward pass asked for alone; the combined call's results
    bad inputs    every bad argument is refused: a ValueError or TypeError naming it
    non-finite    NaN and inf propagate as the definition says, without warnings
    no mutation   inputs unchanged; a forward cache survives several backward calls
    dtype         float32 stays float32, float64 stays float64
    layouts       non-contiguous views give the contiguous result
    epilogues     a backend that fuses ReLU into its passes (optional) fuses it right

Every test consults the backend before it chooses a configuration: one outside the backend's
`unsupported(geometry)` is skipped as "out of declared range: <reason>", a pass outside its
`PASSES` is "not computed" - neither is a failure. Numerical checks use the bound of the
backend's error model (`compare`): ERROR_MODEL = "direct" (the default: the elementwise
rounding bound of `bounds`), "winograd" or "fft".

Wrong numbers fail every backend; the house conventions (`conventions`: the exception class
and wording of a refusal, refusing a float32/float64 mix, no NumPy warning on NaN and inf,
the declared range's reason, bit-for-bit passes apart) fail only the backends whose code
ships with convbench (and any in a --convbench-strict run): a plug-in's breaches are noted,
and `python -m kernels verify` lists them with the helper that meets each.

Importing this package imports nothing heavy; the test modules need pytest and Hypothesis
(the `verify` extra).
"""

CATEGORIES = ("grid", "properties", "oracles", "passes apart", "bad inputs", "non-finite",
              "no mutation", "dtype", "layouts", "epilogues")
SUITE = ("test_grid_conv", "test_grid_pool", "test_properties", "test_oracle_scipy",
         "test_oracle_torch", "test_passes_apart", "test_bad_inputs", "test_bad_grads",
         "test_non_finite", "test_no_mutation", "test_dtype", "test_layouts",
         "test_epilogues")


def suite_tests() -> dict:
    """Every test function of the suite by name, for a test file that collects them all (a
    name used twice would hide a test, so it is an error)."""
    import importlib

    found = {}
    for module_name in SUITE:
        module = importlib.import_module(f"{__name__}.{module_name}")
        for name, value in vars(module).items():
            if name.startswith("test_") and callable(value) and \
                    getattr(value, "__module__", None) == module.__name__:
                if name in found:
                    raise RuntimeError(f"two conformance tests are called {name}")
                found[name] = value
    return found
