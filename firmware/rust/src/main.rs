//! The test firmware in Rust: `mdpn_micro` classifies the images linked into it and prints, over
//! semihosting, one line per image, "image I class C scores S0 S1 ...", as the host build of this
//! crate prints them for a file of images. Then the stack one classification used (painted), and
//! the SysTick ticks of the classifications beside those of a loop of known length, from which
//! QEMU's `-icount` gives the instructions per image (not cycles).
#![cfg_attr(target_os = "none", no_std, no_main)]

include!(concat!(env!("OUT_DIR"), "/mdpn_model.rs"));

#[cfg(target_os = "none")]
mod device {
    use core::arch::asm;
    use core::ptr::{read_volatile, write_volatile};

    use cortex_m::peripheral::{syst::SystClkSource, SYST};
    use cortex_m_rt::entry;
    use cortex_m_semihosting::{debug, hprint, hprintln};

    use super::{IMAGE_LEN, MODEL, SCRATCH_LEN, SHAPE};

    static IMAGES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/images.bin"));

    /// Words of stack painted below main's frame, and the pattern.
    const PAINTED: usize = 8192;
    const PAINT: u32 = 0xA5C3_A5C3;

    /// A loop of exactly `2·n + 2` instructions, to tell how many instructions a tick is.
    fn known_loop(n: u32) {
        // SAFETY: only counts a register down; touches no memory.
        unsafe { asm!("1:", "subs {0}, {0}, #1", "bne 1b", inout(reg) n => _) };
    }

    /// Ticks of the 24-bit down-counter between `start` and now.
    fn since(start: u32) -> u32 {
        start.wrapping_sub(SYST::get_current()) & 0xFF_FFFF
    }

    #[entry]
    fn main() -> ! {
        let mut core = cortex_m::Peripherals::take().unwrap();
        core.SYST.set_clock_source(SystClkSource::Core);
        core.SYST.set_reload(0xFF_FFFF);
        core.SYST.clear_current();
        core.SYST.enable_counter();

        let mut scratch = [0u8; SCRATCH_LEN];
        let mut scores = [0i32; SHAPE.classes];
        let top = cortex_m::register::msp::read() as *mut u32;
        // SAFETY: the words below the stack pointer are free stack; nothing else runs.
        let painted = unsafe { top.sub(PAINTED) };
        for i in 0..PAINTED {
            unsafe { write_volatile(painted.add(i), PAINT) };
        }
        // The stack of one classification, alone.
        MODEL
            .classify(&IMAGES[..IMAGE_LEN], &mut scores, &mut scratch)
            .unwrap();
        let untouched = (0..PAINTED)
            .take_while(|&i| unsafe { read_volatile(painted.add(i)) } == PAINT)
            .count();
        let mut ticks = 0u64;
        let count = IMAGES.len() / IMAGE_LEN;
        for (i, image) in IMAGES.chunks_exact(IMAGE_LEN).enumerate() {
            let start = SYST::get_current();
            let class = MODEL.classify(image, &mut scores, &mut scratch).unwrap();
            ticks += since(start) as u64;
            hprint!("image {} class {} scores", i, class);
            for s in scores {
                hprint!(" {}", s);
            }
            hprintln!();
        }
        let start = SYST::get_current();
        known_loop(1_000_000);
        let loop_ticks = since(start);
        hprintln!("images {}", count);
        hprintln!("stack bytes {}", (PAINTED - untouched) * 4);
        hprintln!("scratch bytes {}", SCRATCH_LEN);
        hprintln!("ticks {}", ticks);
        hprintln!("known loop 2000002 instructions ticks {}", loop_ticks);
        debug::exit(if count > 0 {
            debug::EXIT_SUCCESS
        } else {
            debug::EXIT_FAILURE
        });
        loop {}
    }

    #[panic_handler]
    fn panic(info: &core::panic::PanicInfo) -> ! {
        hprintln!("panic: {}", info);
        debug::exit(debug::EXIT_FAILURE);
        loop {}
    }
}

/// On the host: classifies the raw images of the file given as argument.
#[cfg(not(target_os = "none"))]
fn main() -> std::process::ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: mdpn-firmware IMAGES.bin (raw images of {IMAGE_LEN} bytes each)");
        return std::process::ExitCode::from(2);
    };
    let images = match std::fs::read(&path) {
        Ok(images) => images,
        Err(e) => {
            eprintln!("cannot read {path}: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let mut scratch = [0u8; SCRATCH_LEN];
    let mut scores = [0i32; SHAPE.classes];
    for (i, image) in images.chunks_exact(IMAGE_LEN).enumerate() {
        let class = MODEL.classify(image, &mut scores, &mut scratch).unwrap();
        let scores: Vec<String> = scores.iter().map(|s| s.to_string()).collect();
        println!("image {i} class {class} scores {}", scores.join(" "));
    }
    std::process::ExitCode::SUCCESS
}
