"""Measuring: the instruments (timer, GEMM rate, bandwidth, workspace meter, the machine's
load) and what they time: one backend on one layer case, our libraries' rivals, whole CNNs,
a training step's parts and its peak memory. The bottom of kernels.bench: it imports
nothing of judging, output or the commands."""
