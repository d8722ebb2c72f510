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
//!
//! A thread inherits its creator's slice. The shared workers are started on the first
//! connection, from the accept thread, which has the short slice: they set the default one
//! back ([`use_default_slice`]). Otherwise every shared worker, flood included, woke with the
//! same early deadline as the lanes' workers, and they lost their edge over it.

/// The slice asked for: the shortest Linux grants (0.1 ms).
pub(crate) const SLICE_NS: u64 = 100_000;

/// Ask the scheduler for a short slice for the calling thread. Best effort: the outcome is
/// logged at debug level and nothing else depends on it.
pub fn prefer_low_latency() {
    match set_slice(SLICE_NS) {
        Ok(()) => tracing::debug!(slice_ns = SLICE_NS, "short scheduler slice for this thread"),
        Err(e) => tracing::debug!(error = %e, "no short scheduler slice for this thread"),
    }
}

/// Give the calling thread the scheduler's default slice, whatever it inherited. Best effort,
/// as [`prefer_low_latency`].
pub fn use_default_slice() {
    if let Err(e) = set_slice(0) {
        tracing::debug!(error = %e, "cannot reset this thread's scheduler slice");
    }
}

/// Ask for a slice of `ns` nanoseconds; 0 asks for the default one.
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

/// The calling thread's slice in ns, where the kernel shows it (`se.slice` in
/// /proc/thread-self/sched).
#[cfg(all(test, target_os = "linux"))]
pub(crate) fn current_slice() -> Option<u64> {
    let sched = std::fs::read_to_string("/proc/thread-self/sched").ok()?;
    let line = sched.lines().find(|l| l.starts_with("se.slice"))?;
    line.split(':').nth(1)?.trim().parse().ok()
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
            if let Some(ns) = slice() {
                assert_eq!(ns, super::SLICE_NS);
            }
        })
        .join()
        .unwrap();
    }

    /// A thread started by a short-slice thread inherits the short slice; asking for the
    /// default gives it the slice of a thread that never asked.
    use super::current_slice as slice;

    #[test]
    fn an_inherited_short_slice_is_given_back() {
        let default = std::thread::spawn(slice).join().unwrap();
        let (inherited, reset) = std::thread::spawn(|| {
            super::set_slice(super::SLICE_NS).expect("sched_setattr");
            std::thread::spawn(|| {
                let inherited = slice();
                super::use_default_slice();
                (inherited, slice())
            })
            .join()
            .unwrap()
        })
        .join()
        .unwrap();
        if let Some(default) = default {
            assert_eq!(inherited, Some(super::SLICE_NS), "inherited from its creator");
            assert_eq!(reset, Some(default));
        }
    }
}
