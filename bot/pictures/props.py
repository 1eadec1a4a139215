"""Props drawn around the figure: floor things fixed in the world, hand-held things on the body."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Circle, FancyBboxPatch, Rectangle

from bot.pictures.figure import Body
from bot.pictures.poses import Prop, PropKind, View

WOOD, GREY, DARK = "#c8a27a", "#b9bec7", "#4a4f57"
BAND, TOWEL, MAT, BALL = "#2a9d8f", "#e9c46a", "#9ccfc4", "#c5e063"
ON_BODY = (PropKind.BAND, PropKind.WEIGHT, PropKind.TOWEL, PropKind.BALL)


def draw_floor_props(ax: Axes, props: tuple[Prop, ...], first: Body, view: View) -> None:
    """Wall, mat, step, chair and roller; placed once, from the first keyframe's body."""
    for prop in props:
        if prop.kind in ON_BODY:
            continue
        x = first.points[prop.at][0] if prop.at else prop.x
        if view is View.TOP:
            _from_above(ax, prop, x)
        elif prop.kind is PropKind.CHAIR and view is View.FRONT:
            _chair_front(ax, prop, x)
        else:
            DRAWERS[prop.kind](ax, prop, x)


def _from_above(ax: Axes, prop: Prop, x: float) -> None:
    """Seen from the ceiling a mat is a sheet under the body and a roller a long bar."""
    if prop.kind is PropKind.MAT:  # along the page, as the body lies
        length = max(prop.width, 2.0)
        ax.add_patch(Rectangle((x - 0.45, prop.y - length / 2), 0.9, length, color=MAT, zorder=1))
    elif prop.kind is PropKind.ROLLER:
        corner = (x - prop.width / 2, prop.y - 0.075)
        bar = Rectangle(corner, prop.width, 0.15, angle=prop.angle, rotation_point="center")
        bar.set(facecolor="#457b9d", edgecolor=DARK, lw=1, zorder=1)
        ax.add_patch(bar)


def _chair_front(ax: Axes, prop: Prop, x: float) -> None:
    seat = 0.45
    ax.add_patch(Rectangle((x - 0.23, seat), 0.46, 0.45, color=WOOD, ec=DARK, lw=1, zorder=1))
    ax.add_patch(Rectangle((x - 0.25, seat - 0.05), 0.5, 0.05, color=WOOD, ec=DARK, lw=1, zorder=1))
    for leg_x in (x - 0.24, x + 0.21):
        ax.add_patch(Rectangle((leg_x, 0), 0.03, seat - 0.05, color=DARK, zorder=1))


def draw_body_props(ax: Axes, props: tuple[Prop, ...], body: Body) -> None:
    """Band, towel and weight, which move with the figure."""
    for prop in props:
        if prop.kind is PropKind.WEIGHT:
            _weight(ax, body.points[prop.at or "right_hand"])
        elif prop.kind is PropKind.BALL:
            centre = tuple(body.points[prop.at or "right_heel"])
            ax.add_patch(Circle(centre, 0.04, facecolor=BALL, edgecolor=DARK, lw=1, zorder=9))
        elif prop.kind in (PropKind.BAND, PropKind.TOWEL):
            start = body.points[prop.at] if prop.at else np.array([prop.x, prop.y])
            end = body.points[prop.to] if prop.to else np.array([prop.x, prop.y])
            if prop.to is None:  # tied to something solid
                ax.add_patch(
                    Rectangle((prop.x - 0.04, prop.y - 0.04), 0.08, 0.08, color=DARK, zorder=8)
                )
            colour, width = (BAND, 4) if prop.kind is PropKind.BAND else (TOWEL, 6)
            ax.plot(
                *zip(start, end, strict=True),
                color=colour,
                lw=width,
                solid_capstyle="round",
                zorder=8,
            )


def _mat(ax: Axes, prop: Prop, x: float) -> None:
    width = max(prop.width, 1.8)
    ax.add_patch(Rectangle((x - width / 2, -0.02), width, 0.02, color=MAT, zorder=1))


def _wall(ax: Axes, prop: Prop, x: float) -> None:
    """x is the wall's face; the wall extends away from the middle of the picture."""
    left = x if x > 0 else x - 0.1
    ax.add_patch(Rectangle((left, 0), 0.1, 2.2, color=GREY, ec=DARK, lw=1, zorder=1))


def _step(ax: Axes, prop: Prop, x: float) -> None:
    box = FancyBboxPatch(
        (x - prop.width / 2, 0), prop.width, prop.height, boxstyle="round,pad=0,rounding_size=0.02"
    )
    box.set(facecolor=WOOD, edgecolor=DARK, lw=1, zorder=1)
    ax.add_patch(box)


def _chair(ax: Axes, prop: Prop, x: float) -> None:
    seat, depth = (prop.height if prop.height >= 0.3 else 0.45), 0.42
    back = x - depth / 2
    ax.add_patch(Rectangle((back, seat - 0.04), depth, 0.05, color=WOOD, ec=DARK, lw=1, zorder=1))
    ax.add_patch(Rectangle((back - 0.03, seat), 0.04, 0.45, color=WOOD, ec=DARK, lw=1, zorder=1))
    for leg_x in (back, back + depth - 0.03):
        ax.add_patch(Rectangle((leg_x, 0), 0.03, seat - 0.04, color=DARK, zorder=1))


def _roller(ax: Axes, prop: Prop, x: float) -> None:
    radius = 0.075
    ax.add_patch(Circle((x, radius), radius, facecolor="#457b9d", edgecolor=DARK, lw=1, zorder=1))


def _weight(ax: Axes, point: np.ndarray) -> None:
    ax.add_patch(Circle(tuple(point + np.array([0, -0.05])), 0.085, color=DARK, zorder=9))
    ax.add_patch(Circle(tuple(point), 0.035, fill=False, ec=DARK, lw=2.5, zorder=9))


DRAWERS = {
    PropKind.MAT: _mat,
    PropKind.WALL: _wall,
    PropKind.STEP: _step,
    PropKind.CHAIR: _chair,
    PropKind.ROLLER: _roller,
}
