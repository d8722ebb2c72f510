//! A connection's first bytes → PROXY header, the shield's own request-head parser (as its
//! HTTP/1.1 connection reads it), the service's pre-upstream checks.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_fuzz::{connection_head, request_head};

fuzz_target!(|data: &[u8]| {
    request_head(data, connection_head);
});
