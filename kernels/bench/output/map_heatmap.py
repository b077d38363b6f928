"""The algorithm map as a picture (`python -m kernels map --plot`): one heatmap panel per
sweep, each cell coloured by its winner and labelled with the winner's margin over the
runner-up and its time over PyTorch's and the fastest library's; a toss-up (the runner-up
within the noise band) is hatched. A run on a busy machine says so in the title."""

from __future__ import annotations

import numpy as np

from ...support.files import atomic_write
from ..judging.compare import NOISE_FLOOR


def heatmap(result, path):
    import matplotlib.pyplot as plt

    fig = heatmap_figure(result)
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110))
    plt.close(fig)


def heatmap_figure(result):
    """One panel per sweep: cells coloured by the winner, labelled with its margin over the
    runner-up and its time relative to PyTorch; a cell whose runner-up is within the noise
    band (NOISE_FLOOR, as --compare uses) is hatched and says so: its winner is a toss-up."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_rgb
    from matplotlib.patches import Rectangle

    from .charts import backend_colour

    def fixed(panel, key):
        """The value a sweep holds fixed (the image size of the channels sweep, ...)."""
        found = {p[key] for p in result["panels"][panel]}
        return found.pop() if len(found) == 1 else "?"

    fig, axes = plt.subplots(1, 2, figsize=(14, 6))
    image_size = fixed("channels", "H")
    for ax, (axis, values, label) in zip(axes, (
            ("channels", result["channels_axis"],
             f"channels C = F (image {image_size}x{image_size})"),
            ("size", result["sizes_axis"], f"image size H = W ({fixed('size', 'C')} channels)"))):
        key = "C" if axis == "channels" else "H"
        kernels = result["kernels_axis"]
        image = np.ones((len(values), len(kernels), 3))
        for p in result["panels"][axis]:
            row, col = values.index(p[key]), kernels.index(p["k"])
            if p["winner"]:
                image[row, col] = to_rgb(backend_colour(p["winner"]))
                tie = p["margin"] is not None and p["margin"] < 1 + NOISE_FLOOR
                text = p["winner"] + (f"\n{p['margin']:.2f}x 2nd" if p["margin"] else "") + \
                    (" (noise)" if tie else "")
                if tie:
                    ax.add_patch(Rectangle(
                        (col - 0.5, row - 0.5), 1, 1, fill=False, hatch="///", lw=0,
                        edgecolor="0.6"))
                text += f"\n{p['vs_torch']:.2f}x torch" if p["vs_torch"] else ""
                text += f"\n{p['vs_library']:.2f}x {p['library']}" \
                    if p.get("vs_library") and p["library"] != "torch" else ""
                ax.text(col, row, text, ha="center", va="center", fontsize=6.5)
        ax.imshow(image, aspect="auto", alpha=0.55, origin="lower")
        ax.set_xticks(range(len(kernels)), [f"{k}x{k}" for k in kernels])
        ax.set_yticks(range(len(values)), values)
        ax.set_xlabel("kernel size")
        ax.set_ylabel(label)
    env = result["environment"]
    load = (result.get("sections") or {}).get("map", {})
    busy = f"  BUSY (load average up to {load['load_max']:.1f}): a loaded machine slows the " \
        "contenders unevenly" if load.get("busy") else ""
    fig.suptitle(f"fastest algorithm, forward + backward, batch {result['batch']} - "
                 f"{env['cpu']}, {env['threads']} threads, {env['date'][:10]}{busy}\nhatched "
                 f"(noise): the runner-up within {NOISE_FLOOR:.0%}, this machine's run-to-run "
                 "noise", fontsize=10)
    fig.tight_layout()
    return fig
