/* half.h — f16 (IEEE 754 binary16) to and from f32 on the host: graph/half.c. */
#ifndef HCG_HALF_H
#define HCG_HALF_H

#include <stdint.h>

float hcg_half_to_float(uint16_t h);
/* Rounds to nearest even; beyond the largest half gives infinity. */
uint16_t hcg_float_to_half(float f);

#endif
