//! An upstream's bytes → the proxy's HTTP/1.1 client (response heads, framing, chunked bodies,
//! trailers). The first byte picks whether the request was a HEAD.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rampart_fuzz::upstream_response(data);
});
