//! A configuration file's bytes → `rampart_config::parse`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rampart_fuzz::config(data);
});
