"""The peak resident memory of a short training run, measured in the process that trains:

    python -m kernels.bench.measuring.memory_probe ARCH BACKEND STEPS THREADS

trains STEPS steps of ARCH (batch 64, random images, Adam) on BACKEND, or PyTorch's twin of
it when BACKEND is 'torch', and prints the process's peak resident bytes as its last line.
kernels.bench.measuring.breakdown.peak_memory runs it in a fresh interpreter per contender, so one
contender's allocations cannot inflate another's figure. Everything heavy is imported inside
`main`: the figure should hold the training run, not this module's imports.
"""

from __future__ import annotations

import sys

BATCH = 64


def _train_torch_twin(arch, steps, threads, x, labels):
    import torch

    from cnn.torch_twin import torch_model

    torch.set_num_threads(threads)
    model = torch_model(arch)
    optimizer = torch.optim.Adam(model.parameters())
    xt, lt = torch.from_numpy(x), torch.from_numpy(labels)
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(xt), lt).backward()
        optimizer.step()


def _train_ours(arch, backend, steps, threads, x, labels):
    from ...support import runtime

    runtime.pin_threads(threads)  # before the backend loads: Numba reads it at start-up
    import kernels
    from cnn.model import build_model
    from cnn.optim import Adam

    model = build_model(arch, backend=kernels.get_backend(backend))
    optimizer = Adam()
    for _ in range(steps):
        model.loss_and_grads(x, labels)
        optimizer.step(model.parameters())


def peak_resident_bytes() -> int:
    """This process's own high-water mark: VmHWM on Linux (getrusage's ru_maxrss would
    include the parent's peak, carried across fork and exec), ru_maxrss elsewhere."""
    import resource

    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) * 1024 for line in status
                        if line.startswith("VmHWM:"))
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main(argv=None) -> int:
    import numpy as np

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 4 or not all(a.isdigit() for a in argv[2:]):
        print("usage: python -m kernels.bench.measuring.memory_probe ARCH BACKEND STEPS THREADS",
              file=sys.stderr)
        return 2
    arch, backend, steps, threads = argv
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, BATCH)
    if backend == "torch":
        _train_torch_twin(arch, int(steps), int(threads), x, labels)
    else:
        _train_ours(arch, backend, int(steps), int(threads), x, labels)
    print(peak_resident_bytes())
    return 0


if __name__ == "__main__":
    sys.exit(main())
