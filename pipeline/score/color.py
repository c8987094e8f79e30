"""Colour science for the metrics: sRGB -> CIELAB (D65) and the CIEDE2000 difference.

- :func:`srgb_to_lab`: ``(..., 3)`` uint8 sRGB -> ``(..., 3)`` float32 Lab, L in [0, 100].
  IEC 61966-2-1 sRGB transfer curve (as a 256-entry table), sRGB/D65 RGB->XYZ matrix,
  D65 2° white (0.95047, 1.0, 1.08883): the same constants as ``skimage.color.rgb2lab``.
- :func:`delta_e00_reference`: CIEDE2000 ΔE00 per element, the full formula of Sharma, Wu & Dalal,
  "The CIEDE2000 color-difference formula: implementation notes, supplementary test data, and
  mathematical observations", Color Res. Appl. 30 (2005), including the hue-mean and
  hue-difference branches, written as in the paper (float64).
- :func:`delta_e00`: the same formula in a fast float32 form (what the metrics use), tested against
  the reference, ``skimage.color.deltaE_ciede2000`` and the paper's test pairs.
"""

from __future__ import annotations

import cv2
import numpy as np

# sRGB (linear) -> XYZ, D65.
_RGB_TO_XYZ = np.array(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ],
    dtype=np.float64,
)
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883], dtype=np.float64)
# Normalising by the white point folded into the matrix (rows X/Xn, Y/Yn, Z/Zn).
_RGB_TO_XYZN = (_RGB_TO_XYZ / _WHITE_D65[:, None]).astype(np.float32)


def _srgb_decode_table() -> np.ndarray:
    v = np.arange(256, dtype=np.float64) / 255.0
    lin = np.where(v > 0.04045, ((v + 0.055) / 1.055) ** 2.4, v / 12.92)
    return lin.astype(np.float32)


_SRGB_TO_LINEAR = _srgb_decode_table()
_SRGB_TO_LINEAR_LUT = _SRGB_TO_LINEAR.reshape(1, 256)
# (fx, fy, fz, 1) -> (L, a, b): L = 116 fy - 16, a = 500 (fx - fy), b = 200 (fy - fz).
_F_TO_LAB = np.array([[0, 116, 0, -16], [500, -500, 0, 0], [0, 200, -200, 0]], dtype=np.float32)
_EPS = np.float32(216.0 / 24389.0)  # (6/29)^3
_KAPPA_DIV = np.float32(24389.0 / 27.0 / 116.0)  # linear branch slope of f(t)
_OFFSET = np.float32(16.0 / 116.0)


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB uint8 ``(..., 3)`` -> CIELAB D65 float32 ``(..., 3)`` (L in [0, 100], a/b ~[-128, 127]).

    Four SIMD passes (OpenCV): transfer-curve table, RGB->XYZ/white, cube root, f->Lab (affine).
    """
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim < 1 or rgb.shape[-1] != 3:
        got = f"{type(rgb).__name__} {getattr(rgb, 'shape', '')} {getattr(rgb, 'dtype', '')}"
        raise ValueError(f"rgb must be a uint8 array with last axis 3, got {got}")
    lead = rgb.shape[:-1]
    if rgb.size == 0:
        return np.zeros((*lead, 3), dtype=np.float32)
    lin = cv2.LUT(np.ascontiguousarray(rgb).reshape(-1, 1, 3), _SRGB_TO_LINEAR_LUT)  # (N, 1, 3) float32
    xyz = cv2.transform(lin, _RGB_TO_XYZN)  # X/Xn, Y/Yn, Z/Zn, all >= 0
    f = cv2.pow(xyz, 1.0 / 3.0)
    if float(xyz.min()) <= _EPS:  # linear segment of f(t) near black
        np.copyto(f, xyz * _KAPPA_DIV + _OFFSET, where=xyz <= _EPS)
    return cv2.transform(f, _F_TO_LAB).reshape(*lead, 3)


def srgb_color_to_lab(rgb: tuple[float, float, float] | np.ndarray) -> np.ndarray:
    """One sRGB colour given as 3 floats in [0, 255] (not necessarily integers) -> Lab float32 (3,)."""
    v = np.clip(np.asarray(rgb, dtype=np.float64).reshape(3) / 255.0, 0.0, 1.0)
    lin = np.where(v > 0.04045, ((v + 0.055) / 1.055) ** 2.4, v / 12.92)
    xyz = (_RGB_TO_XYZ @ lin) / _WHITE_D65
    f = np.where(xyz > 216.0 / 24389.0, np.cbrt(xyz), xyz * (24389.0 / 27.0) / 116.0 + 16.0 / 116.0)
    return np.array([116.0 * f[1] - 16.0, 500.0 * (f[0] - f[1]), 200.0 * (f[1] - f[2])], dtype=np.float32)


def _check_lab_pair(lab1: np.ndarray, lab2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lab1 = np.asarray(lab1)
    lab2 = np.asarray(lab2)
    if lab1.shape != lab2.shape or lab1.ndim < 1 or lab1.shape[-1] != 3:
        raise ValueError(f"lab1 and lab2 must have the same shape (..., 3), got {lab1.shape} and {lab2.shape}")
    dtype = np.float64 if np.float64 in (lab1.dtype, lab2.dtype) else np.float32
    return lab1.astype(dtype, copy=False), lab2.astype(dtype, copy=False)


_25_POW_7 = 25.0**7
_DEG = np.pi / 180.0
_TWO_PI = 2.0 * np.pi


def _pow7(x: np.ndarray) -> np.ndarray:
    x2 = x * x
    return x2 * x2 * x2 * x


def delta_e00_reference(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 (kL = kC = kH = 1) exactly as written in Sharma et al. 2005, eqs. 1-23, float64.

    ``(..., 3)`` Lab arrays -> ``(...)`` float64. The readable reference; :func:`delta_e00` is the
    fast float32 form of the same formula and is tested against this one.
    """
    lab1, lab2 = _check_lab_pair(lab1, lab2)
    lab1, lab2 = lab1.astype(np.float64), lab2.astype(np.float64)
    L1, a1, b1 = lab1[..., 0], lab1[..., 1], lab1[..., 2]
    L2, a2, b2 = lab2[..., 0], lab2[..., 1], lab2[..., 2]

    # 1. a' from the mean chroma (G factor), then C', h' (radians in [0, 2π)).  Eqs. 2-7.
    c_mean = 0.5 * (np.hypot(a1, b1) + np.hypot(a2, b2))
    c7 = c_mean**7
    g1 = 1.0 + 0.5 * (1.0 - np.sqrt(c7 / (c7 + _25_POW_7)))
    a1p, a2p = a1 * g1, a2 * g1
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.mod(np.arctan2(b1, a1p), _TWO_PI)  # atan2(0, 0) == 0, as the CIE convention wants
    h2p = np.mod(np.arctan2(b2, a2p), _TWO_PI)

    # 2. ΔL', ΔC', Δh' (wrapped to [-π, π], 0 when a chroma is 0), ΔH'.  Eqs. 8-11.
    cc = c1p * c2p
    zero_c = cc == 0
    dh = h2p - h1p
    dh = np.where(dh > np.pi, dh - _TWO_PI, np.where(dh < -np.pi, dh + _TWO_PI, dh))
    dh = np.where(zero_c, 0.0, dh)
    d_l = L2 - L1
    d_c = c2p - c1p
    d_h = 2.0 * np.sqrt(cc) * np.sin(0.5 * dh)

    # 3. Means L̄', C̄', h̄' (eq. 14: mid-hue on the short arc, in [0, 2π); h1'+h2' if a C' is 0).
    l_mean = 0.5 * (L1 + L2)
    c_mean_p = 0.5 * (c1p + c2p)
    h_sum = h1p + h2p
    far = np.abs(h1p - h2p) > np.pi
    shift = np.where(far, np.where(h_sum < _TWO_PI, _TWO_PI, -_TWO_PI), 0.0)
    h_mean = np.where(zero_c, h_sum, 0.5 * (h_sum + shift))

    # 4. Weighting functions S_L, S_C, S_H and the rotation term R_T.  Eqs. 15-22.
    t = (
        1.0
        - 0.17 * np.cos(h_mean - 30 * _DEG)
        + 0.24 * np.cos(2.0 * h_mean)
        + 0.32 * np.cos(3.0 * h_mean + 6 * _DEG)
        - 0.20 * np.cos(4.0 * h_mean - 63 * _DEG)
    )
    lm50 = (l_mean - 50.0) ** 2
    s_l = 1.0 + 0.015 * lm50 / np.sqrt(20.0 + lm50)
    s_c = 1.0 + 0.045 * c_mean_p
    s_h = 1.0 + 0.015 * c_mean_p * t
    cp7 = c_mean_p**7
    r_c = 2.0 * np.sqrt(cp7 / (cp7 + _25_POW_7))
    d_theta = 30 * _DEG * np.exp(-(((h_mean - 275 * _DEG) / (25 * _DEG)) ** 2))
    r_t = -np.sin(2.0 * d_theta) * r_c

    # 5. Combine.  Eq. 23.
    tl, tc, th = d_l / s_l, d_c / s_c, d_h / s_h
    return np.sqrt(np.maximum(tl * tl + tc * tc + th * th + r_t * tc * th, 0.0))


# T (eq. 15) = 1 + Re(A1 z + A2 z^2 + A3 z^3 + A4 z^4) with z = e^{i h̄}: each cos(k h̄ + φ) term is
# the real part of e^{i φ} z^k, so T is one complex Horner evaluation (no trig calls).
_T_COEFFS = tuple(
    np.complex64(c)
    for c in (
        -0.17 * np.exp(-1j * np.deg2rad(30.0)),
        0.24,
        0.32 * np.exp(1j * np.deg2rad(6.0)),
        -0.20 * np.exp(-1j * np.deg2rad(63.0)),
    )
)
_C275, _S275 = np.float32(np.cos(275 * _DEG)), np.float32(np.sin(275 * _DEG))
_TINY = np.float32(1e-30)
_COS_100 = np.float32(np.cos(100 * _DEG))  # beyond 100° from 275°, Δθ < 30°·e^-16: zero
_OPPOSITE_HUE_NORM = np.float32(0.35)  # |u1 + u2| below this (|Δh'| > ~160°): exact float64 path


def _t_from_cos_sin(c: np.ndarray, s: np.ndarray) -> np.ndarray:
    """T(h̄) of eq. 15 from float32 cos h̄ and sin h̄ (Horner in z = cos h̄ + i sin h̄)."""
    z = np.empty(c.shape, dtype=np.complex64)
    z.real = c
    z.imag = s
    a1, a2, a3, a4 = _T_COEFFS
    p = a4 * z
    p += a3
    p *= z
    p += a2
    p *= z
    p += a1
    p *= z
    out = p.real.copy()
    out += 1.0
    return out


def _rotation_term(c: np.ndarray, s: np.ndarray, r_c: np.ndarray) -> np.ndarray:
    """R_T = -sin(2Δθ)·R_C, Δθ = 30°·exp(-((h̄ - 275°)/25°)²), from cos h̄ / sin h̄, h̄ in [0°, 360°).

    Only hues within 100° of 275° on the h̄ >= 180° side get a non-zero value (elsewhere Δθ <
    30°·e^-16, below float32 resolution of the result); there h̄ - 275° = atan2(sin, cos) of it.
    """
    cos_d = c * _C275 + s * _S275  # cos(h̄ - 275°)
    near = (cos_d > _COS_100) & (s <= 0)
    out = np.zeros_like(c)
    if near.any():
        sin_d = (s * _C275 - c * _S275)[near]  # sin(h̄ - 275°)
        d = _fast_atan2(sin_d, cos_d[near])  # [0, 2π)
        d = np.where(d > np.pi, d - np.float32(_TWO_PI), d) * np.float32(1.0 / (25 * _DEG))
        d_theta = np.float32(30 * _DEG) * np.exp(-(d * d))
        out[near] = -np.sin(2.0 * d_theta) * r_c[near]
    return out


def _fast_atan2(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """atan2 for float32 arrays, in [0, 2π) (up to ~1e-6 either side).

    OpenCV's SIMD ``phase`` (~2e-4 rad) plus one correction step θ += atan(r) ≈ r (r: the residual
    angle, |r| < 3e-4): good to ~1e-6 rad and several times faster than ``np.arctan2``.
    """
    x2 = x.reshape(-1, 1)
    y2 = y.reshape(-1, 1)
    h0 = cv2.phase(x2, y2)
    c, s = np.cos(h0), np.sin(h0)
    den = x2 * c + y2 * s  # r cos(θ - θ0) ~ r
    h0 += (y2 * c - x2 * s) / np.maximum(den, _TINY)
    return h0.reshape(x.shape)


_CHUNK = 32768  # pixels per block: keeps the ~40 temporaries cache-resident


def delta_e00(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference (kL = kC = kH = 1), element-wise: ``(..., 3)`` Lab -> ``(...)`` float32.

    The formula of Sharma et al. 2005 rewritten without hue angles, so nearly all of it is plain
    float32 arithmetic (about 4x faster than the literal form), run in cache-sized blocks:

    - ΔH' = 2·sqrt(C1'C2')·sin(Δh'/2) = cross·sqrt(2/(C1'C2' + dot)), with cross/dot the 2-D cross
      and dot products of the (a', b) vectors (= C1'C2'·sin Δh', C1'C2'·cos Δh');
    - h̄' (eq. 14: the mid-hue on the short arc) is the direction of the sum of the two unit hue
      vectors; T comes from cos/sin of it by angle-sum identities; Δθ only where it is non-zero.
    - Pairs with nearly opposite hues (|Δh'| > ~160°, where both are ill-conditioned) go through
      :func:`delta_e00_reference`.

    Agrees with the reference and with ``skimage.color.deltaE_ciede2000`` to ~1e-4.
    Symmetric; exactly 0 for equal colours.
    """
    lab1, lab2 = _check_lab_pair(lab1, lab2)
    shape = lab1.shape[:-1]
    flat1 = lab1.reshape(-1, 3)
    flat2 = lab2.reshape(-1, 3)
    out = np.empty(flat1.shape[0], dtype=np.float32)
    for i in range(0, flat1.shape[0], _CHUNK):
        p1 = np.ascontiguousarray(flat1[i : i + _CHUNK].T, dtype=np.float32)  # (3, n) planar
        p2 = np.ascontiguousarray(flat2[i : i + _CHUNK].T, dtype=np.float32)
        block, hard = _delta_e00_block(p1, p2)
        if hard.any():  # nearly opposite hues: exact formula, on the inputs at their own precision
            block[hard] = delta_e00_reference(flat1[i : i + _CHUNK][hard], flat2[i : i + _CHUNK][hard])
        out[i : i + _CHUNK] = block
    return out.reshape(shape)


def delta_e00_srgb(rgb1: np.ndarray, rgb2: np.ndarray) -> np.ndarray:
    """ΔE00 between two sRGB uint8 colour arrays ``(N, 3)`` -> ``(N,)`` float32.

    Same numbers as ``delta_e00(srgb_to_lab(rgb1), srgb_to_lab(rgb2))``, converted block by block so
    no full-size Lab arrays are made (fresh large arrays cost page faults).
    """
    if rgb1.shape != rgb2.shape or rgb1.ndim != 2 or rgb1.shape[1] != 3:
        raise ValueError(f"rgb1 and rgb2 must be (N, 3) arrays of one shape, got {rgb1.shape} and {rgb2.shape}")
    out = np.empty(rgb1.shape[0], dtype=np.float32)
    for i in range(0, rgb1.shape[0], _CHUNK):
        out[i : i + _CHUNK] = delta_e00(srgb_to_lab(rgb1[i : i + _CHUNK]), srgb_to_lab(rgb2[i : i + _CHUNK]))
    return out


def _delta_e00_block(p1: np.ndarray, p2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ΔE00 for planar float32 Lab blocks ``(3, n)`` -> ``(n,)`` float32, and the ``(n,)`` bool
    mask of nearly-opposite-hue pairs whose value must be recomputed exactly (see :func:`delta_e00`).

    Written with in-place operations (``out=``, ``+=``): fewer temporaries, ~10% faster.
    """
    L1, a1, b1 = p1
    L2, a2, b2 = p2

    # 1. a' from the mean chroma (G factor), then C'.  Eqs. 2-6.
    c_mean = _hypot(a1, b1)
    c_mean += _hypot(a2, b2)
    c_mean *= 0.5
    g1 = _chroma_weight(c_mean)  # sqrt(C̄^7 / (C̄^7 + 25^7))
    g1 *= -0.5
    g1 += 1.5  # 1 + G
    a1p = a1 * g1
    a2p = a2 * g1
    c1p = _hypot(a1p, b1)
    c2p = _hypot(a2p, b2)

    # 2. ΔL', ΔC', ΔH' from cross/dot (0 when a chroma is 0: cross == 0 then).  Eqs. 8-11.
    cc = c1p * c2p
    cross = a1p * b2
    cross -= b1 * a2p  # C1'C2' sin Δh'
    d_h = a1p * a2p
    d_h += b1 * b2  # dot = C1'C2' cos Δh'
    d_h += cc
    np.maximum(d_h, _TINY, out=d_h)
    np.divide(2.0, d_h, out=d_h)
    np.sqrt(d_h, out=d_h)
    d_h *= cross  # ΔH' = cross·sqrt(2/(C1'C2' + dot))

    # 3. Means; h̄' is the direction of u1 + u2 (u = unit hue vector; zero chroma adds nothing).
    inv1 = np.maximum(c1p, _TINY)
    np.divide(1.0, inv1, out=inv1)
    inv2 = np.maximum(c2p, _TINY)
    np.divide(1.0, inv2, out=inv2)
    cos_h = a1p * inv1
    cos_h += a2p * inv2
    sin_h = b1 * inv1
    sin_h += b2 * inv2
    norm = _hypot(cos_h, sin_h)
    inv_n = np.maximum(norm, _TINY)
    np.divide(1.0, inv_n, out=inv_n)
    cos_h *= inv_n
    sin_h *= inv_n
    cos_h[norm == 0] = 1.0  # both chromas 0: h̄' = 0
    c_mean_p = c1p + c2p
    c_mean_p *= 0.5

    # 4. Weighting functions and the rotation term.  Eqs. 15-22.
    lm50 = L1 + L2
    lm50 *= 0.5
    lm50 -= 50.0
    lm50 *= lm50  # (L̄' - 50)²
    s_l = lm50 + 20.0
    np.sqrt(s_l, out=s_l)
    np.divide(lm50, s_l, out=s_l)
    s_l *= 0.015
    s_l += 1.0
    s_c = c_mean_p * 0.045
    s_c += 1.0
    s_h = _t_from_cos_sin(cos_h, sin_h)
    s_h *= c_mean_p
    s_h *= 0.015
    s_h += 1.0
    r_c = _chroma_weight(c_mean_p)
    r_c *= 2.0
    r_t = _rotation_term(cos_h, sin_h, r_c)

    # 5. Combine (eq. 23); flag nearly opposite hues for the exact path.
    tl = L2 - L1
    tl /= s_l
    tc = c2p - c1p
    tc /= s_c
    d_h /= s_h  # th
    de = tl * tl
    de += tc * tc
    r_t *= tc
    r_t += d_h
    r_t *= d_h  # th² + R_T·tc·th
    de += r_t
    np.maximum(de, 0.0, out=de)
    np.sqrt(de, out=de)
    return de, (norm < _OPPOSITE_HUE_NORM) & (cc > 0)


def _hypot(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    out = x * x
    out += y * y
    return np.sqrt(out, out=out)


def _chroma_weight(c: np.ndarray) -> np.ndarray:
    """sqrt(C^7 / (C^7 + 25^7)), the chroma factor shared by G (eq. 4) and R_C (eq. 21)."""
    c7 = _pow7(c)
    den = c7 + np.float32(_25_POW_7)
    np.divide(c7, den, out=den)
    return np.sqrt(den, out=den)
