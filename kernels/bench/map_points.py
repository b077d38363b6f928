"""The algorithm map's contenders and verdicts beyond its two sweeps: the libraries
(frameworks and plug-ins) timed next to our algorithms, and a user's own layers (`--case`,
`--cases-file`) timed at their exact geometry.

At each point the winner is the fastest of *our* algorithms, as always; the libraries are
contenders beside it: the fastest one and our winner's time over its time are recorded, but
a library never wins a cell. A library that does not compute every pass (e.g. onnxruntime,
forward only) cannot be timed on the map's forward + backward and is listed as skipped.
"""

from __future__ import annotations

from .. import ALL_PASSES, LIBRARY, available, capabilities, get_backend, passes
from .measuring.instruments import measure_alternated


def select_libraries(wanted: bool, with_torch: bool) -> tuple[list[str], dict[str, str]]:
    """(the libraries to time, {library: why it is not timed})."""
    if not wanted:
        return [], {}
    timed, skipped = [], {}
    for name in available(LIBRARY):
        if name == "torch" and not with_torch:
            continue
        try:
            computed = passes(name)
        except ValueError as error:  # failed to load: the registry says why
            skipped[name] = str(error)
            continue
        if computed != ALL_PASSES:
            skipped[name] = (f"computes {', '.join(computed)} only; the map times forward + "
                             "both backward passes")
        else:
            timed.append(name)
    return timed, skipped


def outcome(seconds: dict, libraries) -> dict:
    """Who won among ours, by how much over our runner-up, over PyTorch and over the
    fastest library."""
    ours = sorted((s, n) for n, s in seconds.items() if n != "torch" and n not in libraries)
    theirs = sorted((s, n) for n, s in seconds.items() if n in libraries)
    best = ours[0][0] if ours else None
    return dict(winner=ours[0][1] if ours else None,
                margin=ours[1][0] / best if len(ours) > 1 else None,
                vs_torch=best / seconds["torch"] if ours and "torch" in seconds else None,
                library=theirs[0][1] if theirs else None,
                vs_library=best / theirs[0][0] if ours and theirs else None)


def _step(backend, x, w, b, dy, params):
    def step():
        y, cache = backend.conv2d_forward(x, w, b, **params)
        backend.conv2d_backward(dy, cache)
    return step


def _torch_step(x, w, b, dy, params):
    import torch
    import torch.nn.functional as F

    tx, tw, tb = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    tdy = torch.from_numpy(dy)

    def step():
        torch.autograd.grad(F.conv2d(tx, tw, tb, **params), [tx, tw, tb], tdy)
    return step


def case_point(case, backends, libraries, with_torch, repeats) -> dict:
    """Forward + both backward passes of every contender on one user case."""
    x, w, b, dy = case.arrays()
    geo = case.geometry(x, w, b)
    contenders, unsupported = {}, {}
    for name in [*backends, *libraries]:
        reason = capabilities(name).unsupported(geo)
        if reason is None:
            contenders[name] = _step(get_backend(name), x, w, b, dy, case.params())
        else:
            unsupported[name] = reason
    if with_torch and "torch" not in libraries:  # the hand-built PyTorch reference
        contenders["torch"] = _torch_step(x, w, b, dy, case.params())
    seconds = {name: stats["median"]
               for name, stats in measure_alternated(contenders, repeats).items()}
    return dict(case=case.name, description=case.describe(), source=case.source,
                flops=3 * geo.flops, seconds=seconds, unsupported=unsupported,
                **outcome(seconds, libraries))


def case_line(p) -> str:
    times = "  ".join(f"{n} {s * 1e3:.2f}" for n, s in sorted(p["seconds"].items(),
                                                               key=lambda i: i[1]))
    library = f"; fastest library {p['library']}, ours {p['vs_library']:.2f}x its time" \
        if p["library"] and p["vs_library"] else ""
    return f"{p['case']} ({p['description']}): {p['winner']}{library}  ({times} ms)"


def plot_cases(result, path) -> None:
    """One row per user case, coloured by our winner, labelled with its margin and its time
    over PyTorch's and the fastest library's."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.colors import to_rgb

    from ..support.files import atomic_write
    from .output.charts import backend_colour

    points = result["cases"]
    fig, ax = plt.subplots(figsize=(9, 0.6 * len(points) + 1.5))
    image = np.ones((len(points), 1, 3))
    for row, p in enumerate(points):
        if p["winner"]:
            image[row, 0] = to_rgb(backend_colour(p["winner"]))
        text = [p["winner"] or "none of ours computes it"]
        text += [f"{p['margin']:.2f}x 2nd"] if p["margin"] else []
        text += [f"{p['vs_torch']:.2f}x torch"] if p["vs_torch"] else []
        text += [f"{p['vs_library']:.2f}x {p['library']}"] if p["vs_library"] else []
        ax.text(0, row, "  ".join(text), ha="center", va="center", fontsize=8)
    ax.imshow(image, aspect="auto", alpha=0.55)
    ax.set_yticks(range(len(points)), [f"{p['case']}\n{p['description']}" for p in points],
                  fontsize=7)
    ax.set_xticks([])
    env = result["environment"]
    ax.set_title(f"fastest of our algorithms on your layers, forward + backward - {env['cpu']}, "
                 f"{env['threads']} threads, {env['date'][:10]}", fontsize=9)
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110))
    plt.close(fig)
