"""Teacher alphas (rembg) for a folder of photos: python teacher.py MODEL IMAGES OUT (one <stem>.png per photo)."""
import glob
import os
import sys
import time

import numpy as np
from PIL import Image, ImageOps
from rembg import new_session, remove

m, src, out = sys.argv[1:4]
os.makedirs(out, exist_ok=True)
s = new_session(m)
for p in sorted(glob.glob(src + '/*')):
    stem = os.path.splitext(os.path.basename(p))[0]
    if os.path.exists(f'{out}/{stem}.png'): continue
    try:
        im = ImageOps.exif_transpose(Image.open(p)).convert('RGB')
    except FileNotFoundError:  # removed while the folder is being gathered
        continue
    t = time.perf_counter(); a = np.asarray(remove(im, session=s))[..., 3]; dt = time.perf_counter() - t
    Image.fromarray(a).save(f'{out}/{stem}.png'); print(stem, f'{dt:.3f}', flush=True)
