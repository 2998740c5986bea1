"""Pixel content: a torso phantom as a label volume, turned into CT, MR or PET values.

De-identification scoring compares pixels outside burned-in boxes (``pixels_retained``) and
matches output files to inputs by their pixels, so images need structure: a flat or
pure-noise image would match anything. One analytic phantom (body, fat, lungs, spine, an
organ, a small lesion) rendered once per series as a (slices, rows, cols) label volume, then
mapped through a per-modality look-up table plus noise, keeps every series distinct and the
whole synthesis vectorised (no per-pixel Python).
"""

from __future__ import annotations

import numpy as np

AIR, FAT, SOFT, LUNG, BONE, ORGAN, LESION = range(7)

# Values per label (index = label), per modality or MR weighting.
CT_HU = np.array([-1000, -100, 40, -850, 700, 60, 110], dtype=np.float32)
MR_SIGNAL = {
    "T1": np.array([0, 1800, 900, 60, 300, 1100, 700], dtype=np.float32),
    "T2": np.array([0, 1300, 700, 40, 150, 500, 1900], dtype=np.float32),
    "FLAIR": np.array([0, 1100, 800, 30, 200, 700, 2100], dtype=np.float32),
}
PET_SUV = np.array([0.0, 0.4, 1.0, 0.3, 0.9, 2.2, 9.0], dtype=np.float32)


def _ellipse(x: np.ndarray, y: np.ndarray, cx: float, cy: float, rx: np.ndarray | float,
             ry: np.ndarray | float) -> np.ndarray:
    rx = np.maximum(rx, 1e-6)
    ry = np.maximum(ry, 1e-6)
    return ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1.0


def torso_labels(n: int, rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    """Label volume (n, rows, cols) uint8 of a torso from lung apex (slice 0) to abdomen.

    ``rng`` jitters the anatomy so two patients (or series) differ while staying plausible.
    """
    jx, jy, js = rng.uniform(-0.04, 0.04), rng.uniform(-0.04, 0.04), rng.uniform(0.9, 1.05)
    y, x = np.meshgrid(np.linspace(-1, 1, rows, dtype=np.float32),
                       np.linspace(-1, 1, cols, dtype=np.float32), indexing="ij")
    x, y = x[None] - jx, y[None] - jy
    t = np.linspace(0.0, 1.0, max(n, 1), dtype=np.float32)[:, None, None]
    labels = np.zeros((n, rows, cols), dtype=np.uint8)
    body = _ellipse(x, y, 0, 0, 0.85 * js, 0.62 * js)
    labels[np.broadcast_to(body, labels.shape)] = FAT
    labels[np.broadcast_to(_ellipse(x, y, 0, 0, 0.78 * js, 0.55 * js), labels.shape)] = SOFT
    lung_scale = np.clip(1.3 - 1.6 * t, 0.0, 1.0)
    for cx in (-0.38, 0.38):
        labels[_ellipse(x, y, cx * js, -0.08, 0.27 * lung_scale * js, 0.38 * lung_scale * js)] = LUNG
    organ_scale = np.clip(2.0 * t - 0.6, 0.0, 1.0)
    labels[_ellipse(x, y, -0.3 * js, 0.02, 0.34 * organ_scale, 0.3 * organ_scale)] = ORGAN
    lesion_scale = np.clip(1.0 - np.abs(t - 0.5) * 5.0, 0.0, 1.0)
    labels[_ellipse(x, y, 0.28 * js, 0.08, 0.07 * lesion_scale, 0.07 * lesion_scale)] = LESION
    labels[np.broadcast_to(_ellipse(x, y, 0, 0.42 * js, 0.1, 0.1), labels.shape)] = BONE
    return labels


def ct_stored(labels: np.ndarray, rng: np.random.Generator, intercept: float = -1024.0) -> np.ndarray:
    """Stored int16 CT values (HU - intercept) with scanner-like noise."""
    hu = CT_HU[labels] + rng.standard_normal(labels.shape, dtype=np.float32) * 12.0
    return np.clip(np.rint(hu - intercept), -2000, 4095).astype(np.int16)


def mr_stored(labels: np.ndarray, weighting: str, rng: np.random.Generator) -> np.ndarray:
    """Stored uint16 MR magnitudes (12-bit) with Rician-like noise and a coil shading."""
    signal = MR_SIGNAL[weighting][labels]
    rows = labels.shape[1]
    shading = np.linspace(1.1, 0.85, rows, dtype=np.float32)[None, :, None]
    noise = np.abs(rng.standard_normal(labels.shape, dtype=np.float32)) * 25.0
    return np.clip(np.rint(signal * shading + noise), 0, 4095).astype(np.uint16)


def pet_activity(labels: np.ndarray, bq_per_ml_per_suv: float, rng: np.random.Generator) -> np.ndarray:
    """Activity concentration (Bq/ml), float32, with multiplicative count noise."""
    suv = PET_SUV[labels] * (1.0 + 0.15 * rng.standard_normal(labels.shape, dtype=np.float32))
    return np.clip(suv, 0.0, None) * np.float32(bq_per_ml_per_suv)


def radiograph(rows: int, cols: int, rng: np.random.Generator, bits: int = 12) -> np.ndarray:
    """A projection image (uint16): attenuation summed through the phantom, plus noise.

    The attenuation path is computed on a 4x coarser grid and enlarged (it is smooth anyway),
    which keeps a 512x512 view at a few milliseconds; the noise is full resolution.
    """
    small_r, small_c = -(-rows // 4), -(-cols // 4)
    labels = torso_labels(8, small_r, small_c, rng)
    mu = np.array([0.0, 0.18, 0.2, 0.03, 0.5, 0.21, 0.22], dtype=np.float32)
    path = mu[labels].sum(axis=0)
    path = np.repeat(np.repeat(path, 4, axis=0), 4, axis=1)[:rows, :cols]
    img = (path / max(float(path.max()), 1e-6)) * (2**bits - 600) + 300
    img += rng.standard_normal(img.shape, dtype=np.float32) * 20.0
    return np.clip(np.rint(img), 0, 2**bits - 1).astype(np.uint16)
