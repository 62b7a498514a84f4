"""Kind `image`: a background photo, its sidecar's camera sizing the product, its light and objects."""
from __future__ import annotations

import dataclasses
from typing import Any

import cv2
import numpy as np

from ... import compose, scene
from ...folders import ImageFolder
from ...ops import harmonize, plates
from ...sample import Instance, Sample, SceneLight
from .base import _Background
from .config import SMALL_PRODUCT_CM


class ImageBackground(_Background):
    """A background photo from a folder, cropped and zoomed; the product stands on its floor.

    A photo may carry a sidecar (`<stem>.json`, `scene.read_backdrop`): its camera sizes the product
    (`sizing: physical`), its light and gloss go to the shadow step, and the objects of the 21 classes it
    shows are annotated in the output (hidden where the product covers them)."""

    uses = frozenset()  # a photo is never recoloured: the palette is not read
    provides = frozenset({"plate", "floor_y"})
    position = "floor"
    min_object_area = 0.001  # a backdrop object smaller than this share of the canvas is not annotated

    def __init__(self, config: Any, photos: ImageFolder):
        super().__init__(config)
        self.photos = photos
        self.floor_range = tuple(config.floor)  # type: ignore[misc]
        self.backdrops: list[scene.Backdrop | None] = []
        for path in photos.files:
            side = scene.sidecar_path(path)
            bd = scene.read_backdrop(side) if side.is_file() else None
            if bd is not None:
                from PIL import Image
                with Image.open(path) as im:
                    iw, ih = im.size
                if abs(iw / ih - bd.size[0] / bd.size[1]) > 0.01:
                    raise scene.BackdropError(f"{side}: field 'size' {list(bd.size)} does not have the aspect "
                                              f"of {path.name} ({iw}x{ih})")
            self.backdrops.append(bd)

    # -- true size ------------------------------------------------------------------------------

    def _prior(self, sample: Sample) -> tuple[str, tuple[float, float]] | None:
        if self.config.sizing != "physical" or not sample.instances:
            return None
        name = scene.class_name(sample.instances[0].class_id)
        return None if name is None else (name, scene.SIZE_PRIOR_CM[name])

    def _crop(self, bd: scene.Backdrop, canvas: tuple[int, int], zoom: float, pos) -> tuple[float, float]:
        """(canvas row of the horizon, canvas row where the support starts) of the crop
        `plates.crop_scale_plate` takes (sidecar pixels; only fractions matter)."""
        w, h = canvas
        iw, ih = bd.size
        cw = min(iw, ih * w / h) / max(zoom, 1.0)
        ch = cw * h / w
        y0 = pos[1] * (ih - ch)
        k = h / ch
        return (bd.horizon * ih - y0) * k, (bd.support_from * ih - y0) * k

    def _stand(self, bd: scene.Backdrop, canvas, zoom, pos, box, size_cm: float, bottom: float,
               cap: float | None) -> tuple[float, float, str] | None:
        """(scale, contact row, note) of a product `size_cm` long standing on this crop's support, as
        near the drawn `bottom` as it fits; None if it fits nowhere on the support."""
        w, h = canvas
        bx0, by0, bx1, by1 = box
        bw, bh = bx1 - bx0, by1 - by0
        longest = max(bw, bh)
        hy, start = self._crop(bd, canvas, zoom, pos)
        y, step = bottom, max(1.0, 0.005 * h)
        note = "at the drawn contact row"
        while True:
            f = size_cm * scene.px_per_cm(y, hy, bd.camera_height_cm) / longest
            if f > 0 and f * bw <= 0.98 * w and y - f * bh >= 0.02 * h and (cap is None or f <= cap):
                return f, y, note
            if y <= start or f <= 0:
                return None
            y = max(start, y - step)
            note = "further back than the drawn contact row: too big there" + \
                   ("" if cap is None else " or enlarged more than max_enlarge")

    def draw_plate(self, sample, draws, canvas):
        cfg = self.config
        photo = draws.rng("photo")
        i = int(photo.integers(len(self.photos)))
        p = {"file": self.photos.names[i], "index": i, "zoom": round(float(draws.value(cfg.zoom, "zoom")), 6),
             "pos": draws.rng("pos").uniform(0, 1, size=2).round(6).tolist(),
             "flip": bool(cfg.flip and draws.rng("flip").integers(2))}
        prior = self._prior(sample)
        box = compose.product_box(sample.alpha) if prior is not None else None
        if prior is not None and box is not None and any(b is not None for b in self.backdrops):
            # the product's physical size, then a backdrop whose support can hold it at that size; if
            # none can (a small input would be enlarged too much), the class's smallest size
            mid = sum(self.floor_range) / 2 * canvas[1]
            # log-uniform: as many kettles as washing machines between 20 and 90 cm would be too many big ones
            drawn = round(float(np.exp(draws.rng("size_cm").uniform(np.log(prior[1][0]), np.log(prior[1][1])))), 3)
            for size_cm in (drawn, prior[1][0]):
                ok = [j for j, bd in enumerate(self.backdrops) if bd is not None and
                      self._stand(bd, canvas, p["zoom"], p["pos"], box, size_cm, mid, cfg.max_enlarge) is not None]
                if ok:
                    break
            p["size_cm"] = size_cm if ok else drawn
            # where a photographer would set it: small things on a table or counter, furniture on the floor
            lo, hi = prior[1]
            kinds = {"counter", "table"} if hi <= SMALL_PRODUCT_CM else {"floor"} if lo >= SMALL_PRODUCT_CM else None
            preferred = [j for j in ok if kinds is None or self.backdrops[j].support_kind in kinds]
            ok = preferred or ok
            if p["size_cm"] != drawn:
                p["size_note"] = f"{drawn:g} cm fits no backdrop: the class's smallest size"
            if ok and i not in ok:
                i = ok[int(photo.integers(len(ok)))]
                p.update(file=self.photos.names[i], index=i,
                         redrawn=f"the first backdrop cannot hold a {prior[0]} of {p['size_cm']:g} cm")
        return p

    def true_size(self, sample, canvas, plate, box, bottom):
        bd = self.backdrops[plate["index"]]
        if self.config.sizing != "physical":
            return None
        if bd is None:
            return f"{plate['file']} has no sidecar (camera unknown)"
        prior = self._prior(sample)
        if prior is None:
            return "class unknown" if not sample.instances else \
                f"class unknown ({scene.class_name(sample.instances[0].class_id) or 'product'})"
        name, size_cm = prior[0], plate["size_cm"]
        stand = self._stand(bd, canvas, plate["zoom"], plate["pos"], box, size_cm, bottom, self.config.max_enlarge)
        if stand is None:
            return (f"a {name} of {size_cm:.0f} cm does not fit {plate['file']}'s support at this crop"
                    + ("" if self.config.max_enlarge is None else " without enlarging it more than max_enlarge"))
        f, y, note = stand
        hy, _start = self._crop(bd, canvas, plate["zoom"], plate["pos"])
        return f, y, {"mode": "true", "class": name, "cm": round(size_cm, 3),
                      "px_per_cm": round(scene.px_per_cm(y, hy, bd.camera_height_cm), 6),
                      "contact_row": round(y, 3), "note": note}

    # -- render ---------------------------------------------------------------------------------

    def harmonized(self, sample, plate):
        """The input photo relit from the light of its own background to the plate's (`harmonize`)."""
        strength = self.config.harmonize
        if strength <= 0 or plate is None or sample.alpha is None:
            return sample
        src = harmonize.light_estimate(sample.image, sample.alpha < 0.02)
        dst = harmonize.light_estimate(plate)
        if src is None or dst is None:
            return sample
        g = harmonize.gains(src, dst, strength)
        return sample.replace(image=harmonize.apply_gains(sample.image, g))

    def render_plate(self, p, size):
        photo = self.photos[p["index"]]
        if p["flip"]:
            photo = photo[:, ::-1]
        return plates.crop_scale_plate(np.ascontiguousarray(photo), size, p["zoom"], tuple(p["pos"]))

    def floor_y(self, placed, p):
        box = compose.product_box(placed.alpha)
        return float(box[3]) if box is not None else float(placed.height)

    def light(self, p, size):
        bd = self.backdrops[p["index"]]
        if bd is None:
            return None, None
        az = -bd.light_azimuth if p["flip"] else bd.light_azimuth
        return SceneLight(az, bd.light_elevation, f"backdrop {p['file']}"), bd.gloss

    def add_backdrop_objects(self, out, p):
        bd = self.backdrops[p["index"]]
        if bd is None or not bd.objects:
            return out
        size = (out.width, out.height)
        product = out.alpha > 0.5 if out.alpha is not None else np.zeros((out.height, out.width), bool)
        extra = []
        for class_id, mask in bd.object_masks():
            m = mask.view(np.uint8) * np.uint8(255)
            if p["flip"]:
                m = cv2.flip(m, 1)
            canvas_mask = (plates.crop_scale_plate(m, size, p["zoom"], tuple(p["pos"])) > 127) & ~product
            if canvas_mask.mean() >= self.min_object_area:
                extra.append(dataclasses.replace(Instance.from_mask(class_id, canvas_mask), backdrop=True))
        return out.replace(instances=tuple(out.instances) + tuple(extra)) if extra else out
