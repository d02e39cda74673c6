/* The integer path of mdpn_micro (the Rust crate that defines it), line for line: the same
   integers come out, bit for bit. Nothing here allocates, calls libm or uses floating point. */

#define SIDE (MDPN_IMAGE_SIZE - WINDOW + 1)
#define POOLED (SIDE / POOL)
#define FEATURES (MDPN_CHANNELS * POOLED * POOLED * DENDRITES)
#define SYNAPSES (WINDOW * WINDOW)

/* The membrane's and the soma's outputs: the only memory the classifier writes. */
static uint8_t membrane[FEATURES];
static uint8_t hidden[HIDDEN];

/* Half of 2^shift: what rounds a shift to the nearest. */
static int64_t half(int shift) {
    return shift == 0 ? 0 : (int64_t)1 << (shift - 1);
}

/* x * multiplier / 2^shift rounded half up, plus zero_point, saturated to low..255. Every
   shift is of a non-negative number, which C defines. */
static uint8_t requant(int32_t x, int32_t multiplier, int shift, int32_t zero_point, uint8_t low) {
    int64_t t = (int64_t)x * multiplier + half(shift) + ((int64_t)zero_point << shift);
    int64_t u = t < 0 ? 0 : t >> shift;
    if (u > 255) {
        u = 255;
    }
    return u < low ? low : (uint8_t)u;
}

/* t / 2^shift rounded half up, for t of either sign. */
static int64_t shift_round(int64_t t, int shift) {
    t += half(shift);
    return t >= 0 ? t >> shift : -((-t - 1) >> shift) - 1;
}

/* The top of z + Z_LIMIT's range, the shift from it to the table's index and half of it. */
#define TOP ((((int32_t)Z_LIMIT << Z_FRAC) * 2) - 1)
#define TABLE_SHIFT (Z_FRAC - TABLE_FRAC)
#define TABLE_HALF (TABLE_SHIFT == 0 ? 0 : (int32_t)1 << (TABLE_SHIFT - 1))

/* Saturation of z + Z_LIMIT to 0..TOP: one instruction where the core has it and TOP + 1 is a
   power of two (Z_SAT_BITS), the same comparisons elsewhere. */
#if defined(__ARM_FEATURE_SAT) && defined(Z_SAT_BITS)
#include <arm_acle.h>
#define SATURATE(z) ((int32_t)__usat((z), Z_SAT_BITS))
#else
#define SATURATE(z) ((z) < 0 ? 0 : (z) > TOP ? TOP : (z))
#endif

/* The dendrite sum of one window: synapse by synapse, z + Z_LIMIT = slope*v + offset
   saturated, then its table entry. a and b point at the dendrite's slopes and offsets, px at
   the window's first pixel. */
static int32_t window_sum(const int32_t *a, const int32_t *b, const uint8_t *px) {
    int32_t sum = 0;
    int i, j;
    for (i = 0; i < WINDOW; i++, px += MDPN_IMAGE_SIZE) {
        for (j = 0; j < WINDOW; j++, a++, b++) {
            int32_t z = *a * (int32_t)px[j] + *b;
            z = SATURATE(z);
            sum += table[(uint32_t)(z + TABLE_HALF) >> TABLE_SHIFT];
        }
    }
    return sum;
}

/* Presynaptic, dendrite and membrane layers: the max of each pool cell's dendrite sums. */
static void membrane_u8(const uint8_t *pixels) {
    int ch, pr, pc, d, r, c, at = 0;
    for (ch = 0; ch < MDPN_CHANNELS; ch++) {
        const uint8_t *plane = pixels + ch * MDPN_IMAGE_SIZE * MDPN_IMAGE_SIZE;
        for (pr = 0; pr < POOLED; pr++) {
            for (pc = 0; pc < POOLED; pc++) {
                for (d = 0; d < DENDRITES; d++) {
                    const int first = (ch * DENDRITES + d) * SYNAPSES;
                    int32_t best = INT32_MIN;
                    for (r = pr * POOL; r < (pr + 1) * POOL; r++) {
                        for (c = pc * POOL; c < (pc + 1) * POOL; c++) {
                            const uint8_t *px = plane + r * MDPN_IMAGE_SIZE + c;
                            int32_t sum = window_sum(slope + first, offset + first, px);
                            if (sum > best) {
                                best = sum;
                            }
                        }
                    }
                    membrane[at++] = requant(best, MEMBRANE_MULTIPLIER, MEMBRANE_SHIFT,
                                             MEMBRANE_ZERO, 0);
                }
            }
        }
    }
}

/* offset[o] + the dot product of int8 weight row o with the u8 inputs. */
static int32_t accumulate(const int8_t *weight, const int32_t *bias, int o, const uint8_t *u,
                          int inputs) {
    const int8_t *w = weight + (int32_t)o * inputs;
    int32_t acc = bias[o];
    int i;
    for (i = 0; i < inputs; i++) {
        acc += (int32_t)w[i] * (int32_t)u[i];
    }
    return acc;
}

int mdpn_classify(const uint8_t *pixels, int32_t *scores) {
    int o, best = 0;
    membrane_u8(pixels);
    for (o = 0; o < HIDDEN; o++) {
        int32_t acc = accumulate(soma_weight, soma_offset, o, membrane, FEATURES);
        hidden[o] = requant(acc, soma_multiplier[o], SOMA_SHIFT, SOMA_ZERO, SOMA_ZERO);
    }
    for (o = 0; o < MDPN_CLASSES; o++) {
        int32_t acc = accumulate(axon_weight, axon_offset, o, hidden, HIDDEN);
        scores[o] = (int32_t)shift_round((int64_t)acc * axon_multiplier[o], AXON_SHIFT);
        if (scores[o] > scores[best]) {
            best = o;
        }
    }
    return best;
}
