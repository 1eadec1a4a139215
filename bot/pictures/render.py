"""Draw an exercise: a still (start and end with an arrow) and a looping animation (GIF)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, Polygon

from bot.pictures.figure import Body, Shape, pose_body
from bot.pictures.poses import Keyframe, Muscles, Picture, PropKind, Side, View
from bot.pictures.props import draw_body_props, draw_floor_props

SKIN, SKIN_FAR = "#6f8fbf", "#a9bcd9"
WORKING, WORKING_FAR = "#e4572e", "#f29e86"
OUTLINE, GHOST, ARROW = "#27344d", "#d5d9e0", "#e76f51"
FLOOR = "#5c5c5c"
DPI = 100
STEPS_BETWEEN, HOLD_FRAMES, FRAME_MS = 8, 4, 70
ASPECT = 1.33  # width / height of a panel of the still and of an animation frame
NUMBERS = [name for name, info in Keyframe.model_fields.items() if info.annotation is float]
ANGLES = [name for name in NUMBERS if name not in ("x", "base")]
FRAMED_PROPS = (PropKind.WALL, PropKind.STEP, PropKind.CHAIR, PropKind.ROLLER)

# Which shapes each muscle group colours ("{side}" is filled with left/right).
MUSCLE_PARTS: dict[Muscles, tuple[str, ...]] = {
    Muscles.GLUTES: ("pelvis",),
    Muscles.QUADS: ("{side}_thigh",),
    Muscles.HAMSTRINGS: ("{side}_thigh",),
    Muscles.ADDUCTORS: ("{side}_thigh",),
    Muscles.HIP_FLEXORS: ("{side}_thigh", "pelvis"),
    Muscles.CALVES: ("{side}_shin",),
    Muscles.SHINS: ("{side}_shin",),
    Muscles.FEET: ("{side}_foot",),
    Muscles.CORE: ("torso", "pelvis"),
}


def highlighted_parts(picture: Picture) -> set[str]:
    sides = ("left", "right") if picture.side is Side.BOTH else (picture.side.value,)
    return {part.format(side=side) for part in MUSCLE_PARTS[picture.highlight] for side in sides}


def render_still(picture: Picture, path: Path) -> Path:
    """Start and end side by side, an arrow between them and one on the moving limb."""
    poses = (picture.keyframes[0], furthest_keyframe(picture.keyframes))
    start, end = (pose_body(k, picture.view) for k in poses)
    limits = _limits(picture)
    fig = Figure(figsize=(11, 3.8), dpi=DPI)
    left, right = fig.add_axes((0.01, 0.02, 0.44, 0.96)), fig.add_axes((0.55, 0.02, 0.44, 0.96))
    _draw_scene(left, picture, start, start, limits)
    _draw_scene(right, picture, end, start, limits, ghost=start)
    _movement_arrow(right, start, end)
    fig.patches.append(
        FancyArrowPatch(
            (0.455, 0.5),
            (0.545, 0.5),
            transform=fig.transFigure,
            arrowstyle="simple,head_width=1.2,head_length=1",
            mutation_scale=25,
            color=ARROW,
        )
    )
    _agg(fig).print_png(path)
    return path


def _agg(fig: Figure):
    """Draw with Agg, chosen here rather than as a global matplotlib backend."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    return FigureCanvasAgg(fig)


def furthest_keyframe(keyframes: tuple[Keyframe, ...]) -> Keyframe:
    """The keyframe whose joints differ most from the start: the end of the movement."""
    return max(
        keyframes[1:],
        key=lambda k: sum(abs(getattr(k, a) - getattr(keyframes[0], a)) for a in ANGLES),
    )


def render_animation(picture: Picture, path: Path) -> Path:
    """A looping GIF that eases from keyframe to keyframe and back."""
    import imageio.v3 as iio

    iio.imwrite(path, list(animation_frames(picture)), extension=".gif", duration=FRAME_MS, loop=0)
    return path


def animation_frames(picture: Picture, height: int = 320) -> Iterator[np.ndarray]:
    """RGB frames of the animation: start, through each keyframe to the end, and back."""
    poses = interpolated_poses(picture.keyframes, picture.loop)
    return pose_frames(picture, poses, height)


def pose_frames(
    picture: Picture, poses: Iterable[Keyframe], height: int = 320
) -> Iterator[np.ndarray]:
    """One RGB frame per pose, all framed alike."""
    limits = _limits(picture)
    first = pose_body(picture.keyframes[0], picture.view)
    fig = Figure(figsize=(height * ASPECT / DPI, height / DPI), dpi=DPI)
    canvas = _agg(fig)
    for pose in poses:
        fig.clear()
        ax = fig.add_axes((0, 0, 1, 1))
        _draw_scene(ax, picture, pose_body(pose, picture.view), first, limits)
        canvas.draw()
        yield np.asarray(canvas.buffer_rgba())[..., :3].copy()


def interpolated_poses(keyframes: tuple[Keyframe, ...], loop: str = "back") -> Iterator[Keyframe]:
    """Eased in-between poses through the keyframes (and back), pausing at start and end."""
    path = list(keyframes)
    if loop == "back":
        path += list(reversed(keyframes[:-1]))
    for index, (a, b) in enumerate(zip(path, path[1:], strict=False)):
        yield from [a] * (HOLD_FRAMES if index in (0, len(keyframes) - 1) else 1)
        for step in range(1, STEPS_BETWEEN):
            t = (1 - np.cos(np.pi * step / STEPS_BETWEEN)) / 2
            yield _blend(a, b, float(t))
    if loop == "restart":
        yield from [path[-1]] * HOLD_FRAMES


def _blend(a: Keyframe, b: Keyframe, t: float) -> Keyframe:
    values = {name: (1 - t) * getattr(a, name) + t * getattr(b, name) for name in NUMBERS}
    return Keyframe.model_construct(**values, ground=a.ground if t < 0.5 else b.ground)


def _limits(picture: Picture) -> tuple[float, float, float, float]:
    """One frame for all keyframes (so nothing jumps), in the panel's proportions."""
    boxes = np.array([pose_body(k, picture.view).bounds() for k in picture.keyframes])
    xmin, xmax = boxes[:, 0].min() - 0.12, boxes[:, 1].max() + 0.12
    ymin, ymax = boxes[:, 2].min() - 0.1, boxes[:, 3].max() + 0.1
    if picture.view is not View.TOP:
        ymin = -0.08
    for prop in picture.props:
        if prop.kind in FRAMED_PROPS and not prop.at:
            half = 0.1 if prop.kind is PropKind.WALL else prop.width / 2
            xmin, xmax = min(xmin, prop.x - half - 0.05), max(xmax, prop.x + half + 0.05)
    width = max(xmax - xmin, (ymax - ymin) * ASPECT)
    height = width / ASPECT
    cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
    bottom = ymin if picture.view is not View.TOP else cy - height / 2
    return cx - width / 2, cx + width / 2, bottom, bottom + height


def _draw_scene(
    ax: Axes,
    picture: Picture,
    body: Body,
    first: Body,
    limits: tuple[float, float, float, float],
    ghost: Body | None = None,
) -> None:
    ax.set_xlim(limits[0], limits[1])
    ax.set_ylim(limits[2], limits[3])
    ax.set_aspect("equal")
    ax.axis("off")
    if picture.view is not View.TOP:
        ax.axhline(0, color=FLOOR, lw=2, zorder=0)
    draw_floor_props(ax, picture.props, first, picture.view)
    if ghost is not None:
        _draw_body(ax, ghost, set(), ghost=True)
    _draw_body(ax, body, highlighted_parts(picture))
    draw_body_props(ax, picture.props, body)


def _draw_body(ax: Axes, body: Body, working: set[str], ghost: bool = False) -> None:
    """Far limbs first and paler; a ghost (the start pose under the end) all in light grey."""
    for shape in sorted(body.shapes, key=lambda s: s.layer):
        if ghost:
            ax.add_patch(_capsule(shape, GHOST, 2, edge=GHOST))
            continue
        far = shape.layer == 0
        if shape.part in working:
            colour = WORKING_FAR if far else WORKING
        else:
            colour = SKIN_FAR if far else SKIN
        ax.add_patch(_capsule(shape, colour, 3 + shape.layer, edge=OUTLINE))


def _capsule(shape: Shape, colour: str, zorder: int, edge: str) -> Polygon | Circle:
    axis = shape.b - shape.a
    length = float(np.hypot(*axis))
    if length < 1e-6:
        return Circle(
            tuple(shape.a), shape.ra, facecolor=colour, edgecolor=edge, lw=1, zorder=zorder
        )
    angle = np.arctan2(axis[1], axis[0])
    back = angle + np.linspace(np.pi / 2, 3 * np.pi / 2, 12)
    front = angle + np.linspace(-np.pi / 2, np.pi / 2, 12)
    outline = np.concatenate(
        [
            shape.a + shape.ra * np.c_[np.cos(back), np.sin(back)],
            shape.b + shape.rb * np.c_[np.cos(front), np.sin(front)],
        ]
    )
    return Polygon(outline, closed=True, facecolor=colour, edgecolor=edge, lw=1, zorder=zorder)


def _movement_arrow(ax: Axes, start: Body, end: Body) -> None:
    """A curved arrow from where the most-moving point was to where it goes."""
    name = max(start.points, key=lambda n: np.hypot(*(end.points[n] - start.points[n])))
    a, b = start.points[name], end.points[name]
    if np.hypot(*(b - a)) < 0.05:
        return
    ax.add_patch(
        FancyArrowPatch(
            tuple(a),
            tuple(b),
            connectionstyle="arc3,rad=0.3",
            arrowstyle="-|>,head_width=4,head_length=8",
            color=ARROW,
            lw=2.5,
            zorder=10,
            shrinkA=4,
            shrinkB=4,
        )
    )
