"""A 2D human figure posed by joint angles: forward kinematics into rounded, tapered capsules."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bot.pictures.poses import Keyframe, View

# Segment lengths and radii in metres, for a person about 1.7 m tall.
TORSO, NECK, HEAD_RADIUS = 0.52, 0.07, 0.105
UPPER_ARM, FOREARM = 0.29, 0.28
THIGH, SHIN = 0.44, 0.43
SHOULDER_HALF_WIDTH, HIP_HALF_WIDTH = 0.18, 0.09

# Which way a positive angle turns (+1 anticlockwise) per view and side; front-view right limbs
# mirror the left ones.
SIGNS = {
    View.SIDE: {"hip": 1, "knee": -1, "ankle": 1, "shoulder": 1, "elbow": 1},
    View.FRONT: {"hip": 1, "knee": -1, "ankle": 1, "shoulder": 1, "elbow": -1},
}
SIGNS[View.TOP] = SIGNS[View.FRONT]


@dataclass(frozen=True)
class Shape:
    """A capsule from a to b (radius ra at a, rb at b); a circle when a == b."""

    part: str  # e.g. "left_thigh", "torso": what a muscle highlight colours
    a: np.ndarray
    b: np.ndarray
    ra: float
    rb: float
    layer: int  # 0 = far limbs, 1 = trunk, 2 = head, 3 = near limbs

    def lowest(self) -> float:
        return min(self.a[1] - self.ra, self.b[1] - self.rb)


@dataclass
class Body:
    """A posed figure: named points (for props and arrows) and the shapes to draw."""

    points: dict[str, np.ndarray] = field(default_factory=dict)
    shapes: list[Shape] = field(default_factory=list)

    def shifted(self, offset: np.ndarray) -> Body:
        return Body(
            points={name: p + offset for name, p in self.points.items()},
            shapes=[
                Shape(s.part, s.a + offset, s.b + offset, s.ra, s.rb, s.layer) for s in self.shapes
            ],
        )

    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, xmax, ymin, ymax) of everything drawn."""
        xs = [v for s in self.shapes for v in (s.a[0] - s.ra, s.b[0] + s.rb, s.b[0] - s.rb)]
        xs += [s.a[0] + s.ra for s in self.shapes]
        ys = [v for s in self.shapes for v in (s.a[1] + s.ra, s.b[1] + s.rb)]
        return min(xs), max(xs), min(s.lowest() for s in self.shapes), max(ys)


def rotate(vector: np.ndarray, degrees: float) -> np.ndarray:
    """The vector turned anticlockwise."""
    rad = np.radians(degrees)
    c, s = np.cos(rad), np.sin(rad)
    return np.array([c * vector[0] - s * vector[1], s * vector[0] + c * vector[1]])


def pose_body(pose: Keyframe, view: View) -> Body:
    """The figure in this pose at x, its lowest (or `ground`) point resting at height `base`."""
    body = Body()
    up = rotate(np.array([0.0, 1.0]), pose.turn)
    chest = rotate(up, -pose.spine)
    _trunk(body, pose, view, up, chest)
    for side in ("left", "right"):
        _leg(body, pose, view, side, -up)
        _arm(body, pose, view, side, -chest)
    if view is View.TOP:  # seen from above: nothing rests on anything
        return body.shifted(np.array([pose.x, pose.base]))
    return body.shifted(np.array([pose.x, pose.base - _resting_height(body, pose.ground)]))


def _resting_height(body: Body, ground: str | None) -> float:
    """The bottom edge of the shapes around the ground point, or of the whole figure."""
    if ground is None:
        return min(shape.lowest() for shape in body.shapes)
    point = body.points[ground]
    touching = [s for s in body.shapes if np.allclose(s.a, point) or np.allclose(s.b, point)]
    return min(s.lowest() for s in touching) if touching else float(point[1])


def _tilted(length: float, tilt: float) -> float:
    """How long a segment looks when it points `tilt` degrees out of the page."""
    return length * float(np.cos(np.radians(tilt)))


def _across(direction: np.ndarray) -> np.ndarray:
    """Towards the figure's left (the viewer's right) in the front view."""
    return rotate(direction, -90)


def _trunk(body: Body, pose: Keyframe, view: View, up: np.ndarray, chest: np.ndarray) -> None:
    pelvis = np.zeros(2)
    neck = pelvis + chest * _tilted(TORSO, pose.trunk_tilt)
    head_dir = rotate(chest, -pose.neck)
    head = neck + head_dir * _tilted(NECK + HEAD_RADIUS, pose.trunk_tilt)
    body.points.update(pelvis=pelvis, neck=neck, head=head)
    if view is View.SIDE:
        behind = rotate(up, 90) * 0.02  # the seat sits a little behind the hip joint
        body.shapes.append(Shape("pelvis", pelvis + behind, pelvis + up * 0.06, 0.11, 0.1, 1))
        body.shapes.append(Shape("torso", pelvis + chest * 0.1, neck - chest * 0.1, 0.1, 0.12, 1))
        face = head + rotate(head_dir, -90) * HEAD_RADIUS * 0.95
        body.shapes.append(Shape("nose", face, face, 0.025, 0.025, 2))
    else:
        side = _across(up) * HIP_HALF_WIDTH
        body.shapes.append(Shape("pelvis", pelvis - side, pelvis + side, 0.1, 0.1, 1))
        chest_end = neck - chest * _tilted(0.13, pose.trunk_tilt)
        body.shapes.append(Shape("torso", pelvis + chest * 0.05, chest_end, 0.13, 0.155, 1))
    body.shapes.append(Shape("neck", neck - chest * 0.03, head, 0.045, 0.045, 2))
    body.shapes.append(Shape("head", head, head, HEAD_RADIUS, HEAD_RADIUS, 2))


def _sign(view: View, side: str, joint: str) -> int:
    mirror = -1 if view is not View.SIDE and side == "right" else 1
    return SIGNS[view][joint] * mirror


def _layer(view: View, side: str, front_layer: int) -> int:
    """Side view: the right side faces you, the left is behind the trunk."""
    if view is View.SIDE:
        return 3 if side == "right" else 0
    return front_layer


def _leg(body: Body, pose: Keyframe, view: View, side: str, down: np.ndarray) -> None:
    angle = {
        j: getattr(pose, f"{side}_{j}") * _sign(view, side, j) for j in ("hip", "knee", "ankle")
    }
    hip = np.zeros(2)
    if view is not View.SIDE:
        hip = _across(-down) * HIP_HALF_WIDTH * (1 if side == "left" else -1)
    thigh = rotate(down, angle["hip"])
    knee = hip + thigh * _tilted(THIGH, getattr(pose, f"{side}_thigh_tilt"))
    shin = rotate(thigh, angle["knee"])
    ankle = knee + shin * _tilted(SHIN, getattr(pose, f"{side}_shin_tilt"))
    outward = 1 if view is View.SIDE or side == "left" else -1
    foot = rotate(rotate(shin, 90 * outward), angle["ankle"])
    if view is View.SIDE:
        heel, toe = ankle - foot * 0.05 + shin * 0.045, ankle + foot * 0.17 + shin * 0.045
    elif view is View.TOP:  # toes up, seen from above: the foot carries on past the shin
        foot = rotate(shin, angle["ankle"] * -outward)
        heel, toe = ankle, ankle + foot * 0.14
    else:
        heel, toe = ankle + shin * 0.05 - foot * 0.02, ankle + shin * 0.05 + foot * 0.06
    layer = _layer(view, side, 0)
    body.points.update({f"{side}_hip": hip, f"{side}_knee": knee, f"{side}_ankle": ankle})
    body.points.update({f"{side}_heel": heel, f"{side}_toe": toe})
    body.shapes.append(Shape(f"{side}_thigh", hip, knee, 0.075, 0.055, layer))
    body.shapes.append(Shape(f"{side}_shin", knee, ankle, 0.055, 0.038, layer))
    body.shapes.append(Shape(f"{side}_foot", heel, toe, 0.035, 0.03, layer))


def _arm(body: Body, pose: Keyframe, view: View, side: str, down: np.ndarray) -> None:
    shoulder = body.points["neck"] + down * 0.06
    if view is not View.SIDE:
        shoulder = shoulder + _across(-down) * SHOULDER_HALF_WIDTH * (1 if side == "left" else -1)
    upper = rotate(down, getattr(pose, f"{side}_shoulder") * _sign(view, side, "shoulder"))
    elbow = shoulder + upper * _tilted(UPPER_ARM, getattr(pose, f"{side}_upper_arm_tilt"))
    fore = rotate(upper, getattr(pose, f"{side}_elbow") * _sign(view, side, "elbow"))
    hand = elbow + fore * _tilted(FOREARM, getattr(pose, f"{side}_forearm_tilt"))
    layer = _layer(view, side, 3)
    body.points.update({f"{side}_shoulder": shoulder, f"{side}_elbow": elbow, f"{side}_hand": hand})
    body.shapes.append(Shape(f"{side}_upper_arm", shoulder, elbow, 0.046, 0.038, layer))
    body.shapes.append(Shape(f"{side}_forearm", elbow, hand, 0.036, 0.03, layer))
