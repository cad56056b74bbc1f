"""Photographs of the sample set: scikit-image's bundled data, with credits, upscaled to full size."""

from __future__ import annotations

import numpy as np
from PIL import Image

from .draw import HEIGHT, WIDTH

_PHOTOS = (  # skimage.data loader, tag, credit and terms as scikit-image's docstrings state them
    ("chelsea", "cat", "Chelsea the cat; CC0 by the photographer (Stefan van der Walt)"),
    (
        "coffee",
        "coffee",
        "Coffee cup, courtesy of Pikolo Espresso Bar; CC0 by the photographer (Rachel Michetti)",
    ),
    (
        "astronaut",
        "",
        "Astronaut Eileen Collins, NASA Great Images database (https://flic.kr/p/r9qvLn); "
        "no known copyright restrictions, released into the public domain",
    ),
    (
        "rocket",
        "",
        "Launch of DSCOVR on Falcon 9, SpaceX Photos (https://www.flickr.com/photos/spacexphotos/"
        "16511594820/); captured by SpaceX and released into the public domain",
    ),
    ("camera", "", "Grey-level camera image; CC0 by the photographer (Lav Varshney); converted to RGB"),
    (
        "immunohistochemistry",
        "",
        "IHC staining of colonic glands, Center for Microscopy And Molecular Imaging "
        "(CMMI); no known copyright restrictions",
    ),
    (
        "hubble_deep_field",
        "",
        "Hubble eXtreme Deep Field, HubbleSite; captured by NASA, may be freely used in the public domain",
    ),
    ("retina", "", "Fundus photograph of a normal left eye (Mikael Häggström, Wikimedia Commons); CC0 1.0"),
)


def _upscale(pixels: np.ndarray) -> Image.Image:
    image = Image.fromarray(pixels).convert("RGB")
    w, h = image.size
    cw, ch = (round(h * 4 / 3), h) if w * 3 > h * 4 else (w, round(w * 3 / 4))
    box = ((w - cw) // 2, (h - ch) // 2, (w - cw) // 2 + cw, (h - ch) // 2 + ch)
    return image.crop(box).resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC)


def _photos() -> list[tuple[str, np.ndarray, str, str]]:
    try:
        from skimage import data
    except ImportError:  # scikit-image is a dev extra; without it generated scenes stand in
        return []
    found = []
    for name, tag, credit in _PHOTOS:
        try:
            pixels = np.asarray(getattr(data, name)())
        except Exception:  # a loader that would need a download (no network here) just drops out
            continue
        found.append((name, pixels, tag, credit))
    return found
