"""Offscreen rendering of 3D models: RGBA with an exact alpha, depth, and a soft ground shadow.

Runs headless through pyrender. ``PYOPENGL_PLATFORM`` defaults to ``egl`` (Mesa's llvmpipe works);
set it to ``osmesa`` before importing this module where EGL is unavailable.

Conventions: Y is up, the model stands on the ground plane y = 0, centred on x = z = 0, units are
centimetres (Sweet Home 3D sizes). The camera orbits the model's bounding-box centre.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

if not hasattr(np, "infty"):  # pyrender 0.1.45 still uses the alias NumPy 2 removed
    np.infty = np.inf


@dataclass(frozen=True, slots=True)
class Light:
    """A directional light given by where it comes from (degrees) and its strength and colour."""

    azimuth_deg: float
    elevation_deg: float
    intensity: float
    kelvin: float = 5500.0


@dataclass(frozen=True, slots=True)
class View:
    """Camera on an orbit around the model, plus the lights of the shot."""

    azimuth_deg: float
    elevation_deg: float
    yfov_deg: float = 30.0
    key: Light = field(default_factory=lambda: Light(35.0, 50.0, 3.0))
    fill: Light = field(default_factory=lambda: Light(-120.0, 25.0, 1.2))
    ambient: float = 0.35
    frame: float = 0.9  # fraction of the half-frame the model's bounding box may fill

    def to_dict(self) -> dict:
        return {
            "azimuth": round(self.azimuth_deg, 2), "elevation": round(self.elevation_deg, 2),
            "yfov": round(self.yfov_deg, 2),
            "key": [round(self.key.azimuth_deg, 1), round(self.key.elevation_deg, 1),
                    round(self.key.intensity, 3), round(self.key.kelvin)],
            "fill": [round(self.fill.azimuth_deg, 1), round(self.fill.elevation_deg, 1),
                     round(self.fill.intensity, 3), round(self.fill.kelvin)],
            "ambient": round(self.ambient, 3),
        }


@dataclass(frozen=True, slots=True)
class AreaLight:
    """A disc light far away: centre direction and angular radius (degrees) control softness."""

    azimuth_deg: float = 30.0
    elevation_deg: float = 60.0
    radius_deg: float = 8.0
    samples: int = 8


@dataclass(frozen=True, slots=True)
class RenderResult:
    rgba: np.ndarray  # H×W×4 uint8, straight (not premultiplied) colour
    depth: np.ndarray  # H×W float32 camera distance in model units, 0 where empty
    distance: float = 0.0  # camera to bounding-box centre, model units (for physical scale)


def kelvin_to_rgb(kelvin: float) -> tuple[float, float, float]:
    """Approximate colour of a black body, normalised so the brightest channel is 1."""
    t = kelvin / 100.0
    r = 255.0 if t <= 66 else 329.698727446 * (t - 60) ** -0.1332047592
    g = 99.4708025861 * math.log(t) - 161.1195681661 if t <= 66 else 288.1221695283 * (t - 60) ** -0.0755148492
    b = 255.0 if t >= 66 else (0.0 if t <= 19 else 138.5177312231 * math.log(t - 10) - 305.0447927307)
    rgb = np.clip([r, g, b], 1.0, 255.0)
    return tuple(float(v) for v in rgb / rgb.max())


def sample_view(rng: np.random.Generator, max_elevation: float = 40.0, min_elevation: float = 0.0) -> View:
    """A random product-photo view: any azimuth, elevation min..max, varied key/fill lights."""
    az = float(rng.uniform(0.0, 360.0))
    key = Light(az + float(rng.uniform(-70, 70)), float(rng.uniform(25, 75)), float(rng.uniform(2.0, 4.5)),
                float(rng.uniform(3200, 7500)))
    fill = Light(az + 180 + float(rng.uniform(-60, 60)), float(rng.uniform(5, 40)), float(rng.uniform(0.5, 1.8)),
                 float(rng.uniform(4500, 9000)))
    return View(az, float(rng.uniform(min_elevation, max_elevation)), float(rng.uniform(24, 38)), key, fill,
                float(rng.uniform(0.2, 0.55)))


def _direction(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    """Unit vector from the origin towards a point at this azimuth/elevation (Y up)."""
    az, el = math.radians(azimuth_deg), math.radians(elevation_deg)
    return np.array([math.cos(el) * math.sin(az), math.sin(el), math.cos(el) * math.cos(az)])


def look_at(eye: np.ndarray, target: np.ndarray, up=(0.0, 1.0, 0.0)) -> np.ndarray:
    """4×4 camera-to-world pose of an OpenGL camera (looking down -Z) at ``eye`` facing ``target``."""
    fwd = np.asarray(target, float) - np.asarray(eye, float)
    fwd /= np.linalg.norm(fwd)
    up = np.asarray(up, float)
    if abs(float(fwd @ up)) > 0.999:
        up = np.array([0.0, 0.0, 1.0])
    right = np.cross(fwd, up)
    right /= np.linalg.norm(right)
    true_up = np.cross(right, fwd)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = right, true_up, -fwd, eye
    return pose


def _fit_distance(lo, hi, centre, direction, yfov: float, radius: float, margin: float = 0.9) -> float:
    """Smallest camera distance at which all 8 bounding-box corners fall inside ``margin`` of the frame."""
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    pose = look_at(centre + direction, centre)
    rel = (corners - centre) @ pose[:3, :3]  # camera axes: x right, y up, -z forward
    limit = math.tan(yfov / 2) * margin
    lo_d, hi_d = radius * 0.2, radius / math.sin(yfov / 2) * 1.05
    for _ in range(30):
        d = (lo_d + hi_d) / 2
        z = d - rel[:, 2]
        ok = np.all(z > 1e-6) and np.max(np.maximum(np.abs(rel[:, 0]), np.abs(rel[:, 1])) / np.maximum(z, 1e-6)) <= limit
        lo_d, hi_d = (lo_d, d) if ok else (d, hi_d)
    return hi_d


def prepare_model(path_or_scene, rotation: np.ndarray | None = None,
                  size: tuple[float, float, float] | None = None):
    """Load a model, apply its catalogue rotation, scale it to ``size`` (x, y, z) and stand it on y=0.

    Returns a ``trimesh.Scene`` with the transforms baked into the geometry.
    """
    import trimesh

    scene = path_or_scene
    if not isinstance(scene, trimesh.Scene):
        scene = trimesh.load(Path(path_or_scene), force="scene", process=False)
    scene = scene.copy()
    meshes = []
    for node in scene.graph.nodes_geometry:
        transform, geom_name = scene.graph[node]
        geom = scene.geometry[geom_name]
        if not isinstance(geom, trimesh.Trimesh) or len(geom.faces) == 0:
            continue
        m = geom.copy()
        m.apply_transform(transform)
        meshes.append(m)
    if not meshes:
        raise ValueError(f"no triangle geometry in {path_or_scene}")
    if rotation is not None:
        rot = np.eye(4)
        rot[:3, :3] = np.asarray(rotation, float)
        for m in meshes:
            m.apply_transform(rot)
    lo = np.min([m.bounds[0] for m in meshes], axis=0)
    hi = np.max([m.bounds[1] for m in meshes], axis=0)
    extent = np.maximum(hi - lo, 1e-9)
    scale = np.ones(3) if size is None or min(size) <= 0 else np.asarray(size, float) / extent
    fit = np.diag([*scale, 1.0])
    fit[:3, 3] = -np.array([(lo[0] + hi[0]) / 2, lo[1], (lo[2] + hi[2]) / 2]) * scale
    out = trimesh.Scene()
    for i, m in enumerate(meshes):
        m.apply_transform(fit)
        out.add_geometry(m, geom_name=f"part{i}")
    return out


def _pyrender_meshes(scene):
    """Opaque, double-sided pyrender meshes of a trimesh scene (glass rendered solid keeps alpha exact)."""
    import pyrender
    import trimesh

    out = []
    for geom in scene.geometry.values():
        try:
            mesh = pyrender.Mesh.from_trimesh(geom, smooth=False)
        except (ValueError, IndexError, TypeError, AttributeError):
            # broken UVs or materials: keep the shape (the mask is what matters) in plain grey
            plain = trimesh.Trimesh(geom.vertices, geom.faces, process=False)
            plain.visual = trimesh.visual.ColorVisuals(plain, face_colors=[150, 150, 150, 255])
            mesh = pyrender.Mesh.from_trimesh(plain, smooth=False)
        for prim in mesh.primitives:
            mat = prim.material
            if getattr(mat, "baseColorTexture", None) is not None and prim.texcoord_0 is None:
                mat.baseColorTexture = None  # a texture without UVs does not compile; keep the base colour
            mat.alphaMode = "OPAQUE"
            mat.doubleSided = True
            if getattr(mat, "baseColorFactor", None) is not None:
                mat.baseColorFactor = np.concatenate([np.asarray(mat.baseColorFactor)[:3], [1.0]])
        out.append(mesh)
    return out


class Renderer:
    """An offscreen renderer of one size; reuse it for many views (creating a GL context is slow).

    ``supersample`` renders at k× the size and box-filters down: alpha becomes the fraction of
    covered sub-pixels, so ``alpha > 0`` exactly where some geometry is (``depth > 0``).
    """

    def __init__(self, size: int = 448, supersample: int = 2):
        import pyrender

        self.size, self.k = int(size), int(supersample)
        self._gl = pyrender.OffscreenRenderer(self.size * self.k, self.size * self.k)
        self._cache_key = None
        self._meshes = None

    def close(self) -> None:
        self._gl.delete()

    def __enter__(self) -> Renderer:  # noqa: PYI034
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _meshes_of(self, model):
        if self._cache_key is not model:
            self._cache_key, self._meshes = model, _pyrender_meshes(model)
        return self._meshes

    def _camera(self, model, view: View):
        import pyrender

        lo, hi = model.bounds
        centre = (lo + hi) / 2
        radius = float(np.linalg.norm(hi - lo)) / 2
        yfov = math.radians(view.yfov_deg)
        dist = _fit_distance(lo, hi, centre, _direction(view.azimuth_deg, view.elevation_deg), yfov, radius,
                             view.frame)
        eye = centre + _direction(view.azimuth_deg, view.elevation_deg) * dist
        cam = pyrender.PerspectiveCamera(yfov=yfov, znear=max(dist - radius * 1.5, dist * 0.02),
                                         zfar=dist + radius * 20)
        return cam, look_at(eye, centre), centre, dist

    def _downsample(self, color: np.ndarray, depth: np.ndarray) -> RenderResult:
        k, s = self.k, self.size
        covered = depth > 0
        cov = covered.reshape(s, k, s, k).mean(axis=(1, 3))
        rgb = color[..., :3].astype(np.float32) * covered[..., None]
        rgb = rgb.reshape(s, k, s, k, 3).sum(axis=(1, 3)) / np.maximum(covered.reshape(s, k, s, k).sum(axis=(1, 3)),
                                                                        1)[..., None]
        d = np.where(covered, depth, np.inf).reshape(s, k, s, k).min(axis=(1, 3))
        d = np.where(np.isfinite(d), d, 0.0).astype(np.float32)
        alpha = np.where(cov > 0, np.maximum(np.round(cov * 255), 1), 0).astype(np.uint8)
        rgba = np.dstack([np.clip(np.round(rgb), 0, 255).astype(np.uint8), alpha])
        return RenderResult(rgba, d)

    def render(self, model, view: View) -> RenderResult:
        """RGBA (alpha = sub-pixel coverage) and depth of the model alone on a transparent background."""
        import pyrender

        scene = pyrender.Scene(bg_color=[0, 0, 0, 0], ambient_light=[view.ambient] * 3)
        for mesh in self._meshes_of(model):
            scene.add(mesh)
        cam, pose, centre, dist = self._camera(model, view)
        scene.add(cam, pose=pose)
        for light in (view.key, view.fill):
            d = _direction(light.azimuth_deg, light.elevation_deg)
            scene.add(pyrender.DirectionalLight(color=kelvin_to_rgb(light.kelvin), intensity=light.intensity),
                      pose=look_at(centre + d, centre))
        color, depth = self._gl.render(scene, flags=pyrender.RenderFlags.RGBA)
        res = self._downsample(color, depth)
        return RenderResult(res.rgba, res.depth, float(dist))

    def render_shadow(self, model, view: View, light: AreaLight = AreaLight(),
                      rng: np.random.Generator | None = None) -> np.ndarray:
        """Shadow matte (H×W float32, 0 = lit, 1 = fully shadowed) the model casts on the ground y = 0,
        seen from the same camera as :meth:`render` with the same ``view``.

        The area light is approximated by ``light.samples`` shadow-mapped directional lights jittered
        over a cone of ``light.radius_deg``; the matte is ``1 - E_with / E_without``, the fraction of
        ground irradiance the model blocks. Under the model itself (not visible) the matte is 0.
        """
        import pyrender
        import trimesh

        rng = rng if rng is not None else np.random.default_rng(0)
        lo, hi = model.bounds
        radius = float(np.linalg.norm(hi - lo)) / 2
        ground = trimesh.creation.box(extents=[radius * 8, radius * 0.01, radius * 8])
        ground.apply_translation([0, -radius * 0.005, 0])
        white = pyrender.MetallicRoughnessMaterial(baseColorFactor=[1, 1, 1, 1], metallicFactor=0.0,
                                                   roughnessFactor=1.0)
        ground_mesh = pyrender.Mesh.from_trimesh(ground, material=white, smooth=False)
        cam, pose, centre, _ = self._camera(model, view)
        flags = pyrender.RenderFlags.SHADOWS_DIRECTIONAL
        lit_with = np.zeros((self.size * self.k,) * 2, np.float64)
        lit_without = np.zeros_like(lit_with)
        obj_mask = None
        for _ in range(max(1, light.samples)):
            # Uniform sample on the spherical cap around the light direction.
            u, v = rng.uniform(), rng.uniform()
            theta = math.radians(light.radius_deg) * math.sqrt(u)
            phi = 2 * math.pi * v
            el = light.elevation_deg + math.degrees(theta * math.sin(phi))
            az = light.azimuth_deg + math.degrees(theta * math.cos(phi)) / max(math.cos(math.radians(el)), 0.1)
            d = _direction(az, min(el, 89.0))
            for with_model in (True, False):
                scene = pyrender.Scene(bg_color=[0, 0, 0, 0], ambient_light=[0, 0, 0])
                scene.add(ground_mesh)
                if with_model:
                    for mesh in self._meshes_of(model):
                        scene.add(mesh)
                scene.add(cam, pose=pose)
                scene.add(pyrender.DirectionalLight(color=[1, 1, 1], intensity=3.0), pose=look_at(centre + d, centre))
                color, _ = self._gl.render(scene, flags=flags)
                if with_model:
                    lit_with += color[..., 0]
                    if obj_mask is None:  # coverage exactly as render() computes it
                        alone = pyrender.Scene(bg_color=[0, 0, 0, 0], ambient_light=[0.3] * 3)
                        for mesh in self._meshes_of(model):
                            alone.add(mesh)
                        alone.add(cam, pose=pose)
                        obj_mask = self._gl.render(alone, flags=pyrender.RenderFlags.RGBA)[1] > 0
                else:
                    lit_without += color[..., 0]
        matte = np.where(lit_without > 0, 1.0 - lit_with / np.maximum(lit_without, 1e-9), 0.0)
        matte[obj_mask] = 0.0
        k, s = self.k, self.size
        return np.clip(matte.reshape(s, k, s, k).mean(axis=(1, 3)), 0, 1).astype(np.float32)
