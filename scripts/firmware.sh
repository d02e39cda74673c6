#!/usr/bin/env bash
# Runs an int8 model on an emulated Cortex-M4: exports it to C and to Rust constants, links the
# first test images into the two test firmwares (firmware/c, firmware/rust), runs both in QEMU's
# mps2-an386 and prints their figures. What each firmware printed is in OUT/c/qemu.txt and
# OUT/rust/qemu.txt, one line per image: "image I class C scores S0 S1 ...".
#
#   scripts/firmware.sh MODEL_INT8 OUT [IMAGES [IDX_IMAGE_FILE]]
#
# IMAGES defaults to 100, IDX_IMAGE_FILE to Fashion-MNIST's test images (gzipped or not). Needs
# target/release/mdpn (or $MDPN), gcc-arm-none-eabi, libnewlib-arm-none-eabi, qemu-system-arm
# and `rustup target add thumbv7em-none-eabihf`.
set -euo pipefail
if [ $# -lt 2 ]; then
    sed -n '2,11p' "$0" >&2
    exit 2
fi
model=$1
out=$(mkdir -p "$2" && cd "$2" && pwd)
count=${3:-100}
idx=${4:-/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz}
root=$(cd "$(dirname "$0")/.." && pwd)
mdpn=${MDPN:-$root/target/release/mdpn}
qemu="timeout 600 qemu-system-arm -M mps2-an386 -nographic -monitor none -serial none
      -semihosting-config enable=on,target=native -icount shift=0 -kernel"

mkdir -p "$out/c" "$out/rust"
"$mdpn" export "$model" --format c --out "$out/c"
"$mdpn" export "$model" --format rust --out "$out/rust"
len=$(sed -n 's/^#define MDPN_IMAGE_LEN \([0-9]*\)$/\1/p' "$out/c/mdpn.h")
# An IDX image file is a 16-byte header and then the pixels, image after image. (head stops
# reading early, so the pipe's status is not looked at; the count below is.)
(set +o pipefail; gzip -dcf "$idx" | tail -c +17 | head -c $((count * len)) > "$out/images.bin")
have=$(($(wc -c < "$out/images.bin") / len))
[ "$have" -eq "$count" ] || { echo "$idx holds $have images of $len bytes, not $count" >&2; exit 1; }
cp "$out/images.bin" "$out/rust/images.bin"
cp "$out/images.bin" "$out/c/images.bin"

# C: the classifier alone (for its size), then the firmware with the images as constants
# (objcopy names them after the file: _binary_images_bin_start and _end).
cd "$out/c"
flags="-std=c99 -Wall -Wextra -Werror -pedantic -mcpu=cortex-m4 -mthumb -Os"
arm-none-eabi-gcc $flags -c mdpn.c -o mdpn.o
arm-none-eabi-objcopy -I binary -O elf32-littlearm -B arm \
    --rename-section .data=.rodata,alloc,load,readonly,data,contents images.bin images.o
arm-none-eabi-gcc $flags -I. -T "$root/firmware/c/mps2-an386.ld" --specs=rdimon.specs \
    "$root/firmware/c/startup.c" "$root/firmware/c/firmware.c" mdpn.c images.o -o firmware.elf
$qemu firmware.elf > qemu.txt

# Rust: mdpn-micro with the generated constants (firmware/rust/build.rs reads MDPN_FIRMWARE_DIR).
cd "$root/firmware/rust"
MDPN_FIRMWARE_DIR="$out/rust" CARGO_TARGET_DIR="$root/firmware/rust/target" \
    cargo build --quiet --release --target thumbv7em-none-eabihf
cp target/thumbv7em-none-eabihf/release/mdpn-firmware "$out/rust/firmware.elf"
cd "$out/rust"
$qemu firmware.elf > qemu.txt

# Figures: sizes from arm-none-eabi-size; instructions per image from the SysTick ticks, scaled
# by the ticks of the firmware's loop of known length.
cd "$out"
figures() {
    awk -v what="$1" '
        /^images / { n = $2 } /^stack bytes / { stack = $3 } /^ticks / { ticks = $2 }
        /^known loop/ { per = $3 / $NF }
        END { printf "%s: %d images, stack %d bytes, %.0f instructions per image (QEMU -icount)\n",
              what, n, stack, ticks * per / n }' "$2"
}
{
    arm-none-eabi-size c/mdpn.o c/firmware.elf rust/firmware.elf
    echo "test images linked in: $(wc -c < images.bin) bytes"
    figures "C firmware" c/qemu.txt
    figures "Rust firmware" rust/qemu.txt
} | tee figures.txt
