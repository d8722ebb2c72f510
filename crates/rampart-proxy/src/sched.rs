//! Latency-sensitive threads: a short scheduler slice for the threads that serve staff and
//! clearance holders.
//!
//! Under a flood the shared workers are busy all the time, and so is everything else on the
//! machine (the upstream app, often on the same host). A staff request crosses several threads
//! (client read, upstream write, upstream read, client write), and each time its thread wakes it
//! waits for the running thread's slice to end — about 1.5 ms on 2 cores with Linux's EEVDF
//! scheduler — behind busy threads that are not more important than it. Since Linux 6.12 a
//! `SCHED_OTHER` thread may ask for a shorter slice (`sched_setattr` with `sched_runtime`, no
//! privilege needed): it gets an earlier deadline, and so the CPU soon after it wakes, without
//! more CPU time than its fair share (its nice value is unchanged). Older kernels ignore the
//! request; other systems have no such call and the threads run as any other.

/// The slice asked for: the shortest Linux grants (0.1 ms).
const SLICE_NS: u64 = 100_000;

/// Ask the scheduler for a short slice for the calling thread. Best effort: the outcome is
/// logged at debug level and nothing else depends on it.
pub fn prefer_low_latency() {
    match set_slice(SLICE_NS) {
        Ok(()) => tracing::debug!(slice_ns = SLICE_NS, "short scheduler slice for this thread"),
        Err(e) => tracing::debug!(error = %e, "no short scheduler slice for this thread"),
    }
}

#[cfg(target_os = "linux")]
fn set_slice(ns: u64) -> std::io::Result<()> {
    /// `struct sched_attr` as `sched_setattr(2)` reads it (SCHED_ATTR_SIZE_VER0: 48 bytes).
    #[repr(C)]
    struct SchedAttr {
        size: u32,
        policy: u32,
        flags: u64,
        nice: i32,
        priority: u32,
        runtime: u64,
        deadline: u64,
        period: u64,
    }
    // The thread's nice value, passed back unchanged: `sched_setattr` sets it too, and lowering
    // it would need a privilege. `getpriority` may return -1 as a value: errno tells.
    // SAFETY: getpriority reads no memory of ours; errno is this thread's.
    let nice = unsafe {
        *libc::__errno_location() = 0;
        libc::getpriority(libc::PRIO_PROCESS, 0)
    };
    if nice == -1 && std::io::Error::last_os_error().raw_os_error() != Some(0) {
        return Err(std::io::Error::last_os_error());
    }
    let attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy: libc::SCHED_OTHER as u32,
        flags: 0,
        nice,
        priority: 0,
        runtime: ns,
        deadline: 0,
        period: 0,
    };
    // SAFETY: `attr` is a valid, initialised sched_attr of the size it declares, alive for the
    // call; pid 0 is the calling thread; the kernel only reads it.
    let rc = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn set_slice(_ns: u64) -> std::io::Result<()> {
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "sched_setattr is Linux's"))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    /// The kernel takes the request and the thread's nice value stays as it was; where the
    /// kernel shows the slice (`se.slice` in /proc/thread-self/sched, in ns), it is the one asked.
    #[test]
    fn a_short_slice_is_granted_and_nice_is_kept() {
        std::thread::spawn(|| {
            let before = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
            super::set_slice(super::SLICE_NS).expect("sched_setattr");
            let after = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
            // Field 19 (after the command name's closing parenthesis) is the nice value.
            let nice = |s: &str| s.rsplit_once(')').unwrap().1.split_whitespace().nth(16).unwrap().to_string();
            assert_eq!(nice(&before), nice(&after));
            if let Ok(sched) = std::fs::read_to_string("/proc/thread-self/sched") {
                if let Some(line) = sched.lines().find(|l| l.starts_with("se.slice")) {
                    let ns: u64 = line.split(':').nth(1).unwrap().trim().parse().unwrap();
                    assert_eq!(ns, super::SLICE_NS, "{line}");
                }
            }
        })
        .join()
        .unwrap();
    }
}
