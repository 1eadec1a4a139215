"""An exercise's picture as data: view, props, highlighted muscles, keyframes of joint angles.

Angles are degrees in the drawing plane. Side view: the figure faces right with its right side
towards you; hip, shoulder and elbow angles are flexion (forward), knee is flexion (backward),
ankle is dorsiflexion (toes up). Front view: the figure faces you; hip and shoulder angles are
abduction (out to the side), knee and elbow bend the lower segment back towards the midline.
Top view: as the front view, seen from the ceiling (the floor is the page, no floor line).
`turn` rotates the whole body anticlockwise (90 = lying with the head on the left). A `*_tilt`
says how far a segment points out of the page, towards or away from you (it looks shorter).
`ground` names the point that rests on the floor (default: the lowest one).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

# Joint -> (lowest, highest) angle a body can reach; the schema rejects anything outside.
JOINT_RANGES: dict[str, tuple[float, float]] = {
    "turn": (-180, 180),
    "spine": (-40, 90),
    "neck": (-60, 70),
    "shoulder": (-70, 180),
    "elbow": (0, 160),
    "hip": (-40, 140),
    "knee": (0, 160),
    "ankle": (-70, 45),
    "tilt": (0, 85),
}


class View(StrEnum):
    SIDE = "side"
    FRONT = "front"
    TOP = "top"


class Muscles(StrEnum):
    """Muscle groups the renderer can colour."""

    GLUTES = "glutes"
    QUADS = "quads"
    HAMSTRINGS = "hamstrings"
    ADDUCTORS = "adductors"
    HIP_FLEXORS = "hip-flexors"
    CALVES = "calves"
    SHINS = "shins"
    FEET = "feet"
    CORE = "core"


class Side(StrEnum):
    LEFT = "left"
    RIGHT = "right"
    BOTH = "both"


class PropKind(StrEnum):
    CHAIR = "chair"
    BAND = "band"
    STEP = "step"
    WALL = "wall"
    ROLLER = "roller"
    MAT = "mat"
    WEIGHT = "weight"
    TOWEL = "towel"
    BALL = "ball"


# Points of the figure a prop can be attached to.
LIMB_POINTS = ("shoulder", "elbow", "hand", "hip", "knee", "ankle", "heel", "toe")
POINTS = ("head", "neck", "pelvis") + tuple(
    f"{side}_{part}" for side in ("left", "right") for part in LIMB_POINTS
)


def _known_point(value: str) -> str:
    if value not in POINTS:
        raise PydanticCustomError("point", f"{value!r} is not a point of the figure")
    return value


Point = Annotated[str, AfterValidator(_known_point)]


class Prop(BaseModel):
    """A prop: fixed in the world at x (metres), or attached to figure points (`at`, `to`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: PropKind
    x: float = Field(default=0.0, ge=-3, le=3)
    y: float = Field(default=0.0, ge=-3, le=3)  # a band's fixed end: height, or across the page
    angle: float = Field(default=0.0, ge=-180, le=180)  # top view: a roller's direction
    height: float = Field(default=0.25, ge=0.02, le=1.5)
    width: float = Field(default=0.5, ge=0.05, le=3)
    at: Point | None = None
    to: Point | None = None


class Keyframe(BaseModel):
    """One pose: where the body is and the angle of every joint (defaults: standing tall)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    x: float = Field(default=0.0, ge=-3, le=3)
    base: float = Field(default=0.0, ge=0, le=1.5)  # the lowest point sits this high (top: y)
    turn: float = 0
    spine: float = 0
    neck: float = 0
    left_shoulder: float = 0
    right_shoulder: float = 0
    left_elbow: float = 0
    right_elbow: float = 0
    left_hip: float = 0
    right_hip: float = 0
    left_knee: float = 0
    right_knee: float = 0
    left_ankle: float = 0
    right_ankle: float = 0
    trunk_tilt: float = 0
    left_upper_arm_tilt: float = 0
    right_upper_arm_tilt: float = 0
    left_forearm_tilt: float = 0
    right_forearm_tilt: float = 0
    left_thigh_tilt: float = 0
    right_thigh_tilt: float = 0
    left_shin_tilt: float = 0
    right_shin_tilt: float = 0
    ground: Point | None = None

    @field_validator("*")
    @classmethod
    def _within_range(cls, value: float, info: ValidationInfo) -> float:
        joint = info.field_name.removeprefix("left_").removeprefix("right_")
        joint = "tilt" if joint.endswith("_tilt") else joint
        if joint not in JOINT_RANGES:
            return value
        low, high = JOINT_RANGES[joint]
        if not low <= value <= high:
            raise PydanticCustomError("joint_range", f"{value:g} is outside {low:g}..{high:g}")
        return value


class Picture(BaseModel):
    """How to draw an exercise: 2 to 4 keyframes, start first; the still shows the start and
    the keyframe furthest from it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    view: View
    highlight: Muscles
    side: Side = Side.BOTH
    props: tuple[Prop, ...] = ()
    # The animation goes back through the keyframes, or (a drill that travels) starts over.
    loop: Literal["back", "restart"] = "back"
    keyframes: tuple[Keyframe, ...] = Field(min_length=2, max_length=4)
