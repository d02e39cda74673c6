/* The exported classifier on the host: classifies the images of a raw file (MDPN_IMAGE_LEN bytes
   each) and prints one line per image as the test firmware does. */
#include <stdint.h>
#include <stdio.h>

#include "mdpn.h"

int main(int argc, char **argv) {
    uint8_t pixels[MDPN_IMAGE_LEN];
    int32_t scores[MDPN_CLASSES];
    FILE *f;
    long i;
    int k;
    if (argc != 2 || !(f = fopen(argv[1], "rb"))) {
        fprintf(stderr, "usage: %s IMAGES.bin (raw images of %d bytes each)\n", argv[0], MDPN_IMAGE_LEN);
        return 2;
    }
    for (i = 0; fread(pixels, 1, MDPN_IMAGE_LEN, f) == MDPN_IMAGE_LEN; i++) {
        int class = mdpn_classify(pixels, scores);
        printf("image %ld class %d scores", i, class);
        for (k = 0; k < MDPN_CLASSES; k++) {
            printf(" %ld", (long)scores[k]);
        }
        printf("\n");
    }
    fclose(f);
    return 0;
}
