//! Brings in the model (`mdpn_model.rs`, from `mdpn export --format rust`) and, for the device,
//! the test images (`images.bin`, raw pixels) from the folder `MDPN_FIRMWARE_DIR`, and the memory
//! map of QEMU's mps2-an386 for cortex-m-rt.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=MDPN_FIRMWARE_DIR");
    let dir = PathBuf::from(std::env::var("MDPN_FIRMWARE_DIR").unwrap_or_else(|_| {
        panic!(
            "set MDPN_FIRMWARE_DIR to a folder holding mdpn_model.rs (`mdpn export MODEL --format \
             rust --out DIR`) and, for the device, images.bin (raw test images)"
        )
    }));
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let device = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none");
    let files: &[&str] = if device {
        &["mdpn_model.rs", "images.bin"]
    } else {
        &["mdpn_model.rs"]
    };
    for name in files {
        let from = dir.join(name);
        println!("cargo:rerun-if-changed={}", from.display());
        std::fs::copy(&from, out.join(name))
            .unwrap_or_else(|e| panic!("cannot copy {}: {e}", from.display()));
    }
    if device {
        // 4 MB at 0x0 for the code and constants, 4 MB of RAM at 0x20000000.
        std::fs::write(
            out.join("memory.x"),
            "MEMORY\n{\n  FLASH : ORIGIN = 0x00000000, LENGTH = 4M\n  RAM : ORIGIN = 0x20000000, LENGTH = 4M\n}\n",
        )
        .unwrap();
        println!("cargo:rustc-link-search={}", out.display());
    }
}
