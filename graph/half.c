/* half.c — IEEE 754 binary16 <-> binary32 conversion in portable C, the one place hcg converts f16
 * on the host (the text format's f16 constants, the CPU kernels' casts, OpenCL fills): rounding to
 * nearest even, subnormals, infinities, and NaNs (kept quiet, sign and top payload bits
 * preserved). */
#include <string.h>

#include "graph/half.h"

static uint32_t float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float hcg_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    if (exp == 0x1f) return bits_float(sign | 0x7f800000u | (man << 13)); /* inf, NaN */
    if (exp != 0) return bits_float(sign | ((exp + 127 - 15) << 23) | (man << 13));
    if (man == 0) return bits_float(sign); /* +-0 */
    /* Subnormal: man * 2^-24, exact in float. */
    float v = (float)man * bits_float(0x33800000u); /* 2^-24 */
    return sign ? -v : v;
}

uint16_t hcg_float_to_half(float f)
{
    uint32_t u = float_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t exp = (u >> 23) & 0xffu, man = u & 0x7fffffu;
    if (exp == 0xff) {
        if (man == 0) return sign | 0x7c00u; /* inf */
        return sign | 0x7e00u | (uint16_t)(man >> 13); /* NaN: quiet, keep the top payload bits */
    }
    int e = (int)exp - 127 + 15; /* the half exponent, if normal */
    if (e >= 0x1f) return sign | 0x7c00u; /* overflow to inf */
    if (e <= 0) {
        /* Subnormal half (or zero): the value is (1.man) * 2^(exp-127); as a half subnormal it is
         * m * 2^-24 with m = (0x800000 | man) >> (14 - e), rounded to nearest even. */
        if (e < -10) return sign; /* below half the smallest subnormal: rounds to zero */
        uint32_t full = man | 0x800000u;
        int shift = 14 - e; /* 14..24 */
        uint32_t m = full >> shift, rem = full & ((1u << shift) - 1), halfway = 1u << (shift - 1);
        if (rem > halfway || (rem == halfway && (m & 1u))) m++; /* may carry into the smallest normal: fine */
        return sign | (uint16_t)m;
    }
    uint32_t m = man >> 13, rem = man & 0x1fffu;
    uint32_t h = ((uint32_t)e << 10) | m;
    if (rem > 0x1000u || (rem == 0x1000u && (m & 1u))) h++; /* a carry may round up to inf: correct */
    return sign | (uint16_t)h;
}
