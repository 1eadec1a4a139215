"""A contact sheet: every exercise's still in a grid, labelled with its title, for review."""

from __future__ import annotations

import math
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.image import imread

COLUMNS = 3


def contact_sheet(stills: list[tuple[str, Path]], path: Path, columns: int = COLUMNS) -> Path:
    """One PNG with each (title, still) in reading order."""
    rows = max(1, math.ceil(len(stills) / columns))
    fig = Figure(figsize=(columns * 4.4, rows * 1.75), dpi=100)
    for index, (title, still) in enumerate(stills):
        ax = fig.add_subplot(rows, columns, index + 1)
        ax.imshow(imread(still))
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.subplots_adjust(left=0.01, right=0.99, top=1 - 0.35 / rows, bottom=0.01, wspace=0.04)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).print_png(path)
    return path
