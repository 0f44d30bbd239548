//! What a stage cost the machine: wall time, CPU time (this process and the programs it ran and
//! waited for: ffmpeg, Apertium, espeak-ng, the LLM worker) and peak resident memory. Read from
//! Linux's `/proc/self`; elsewhere CPU and memory are `None` and only wall time is reported.

use serde::{Deserialize, Serialize};
use std::time::Instant;

/// The figures of one stage run, as `report.json` and the stage manifest give them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub wall_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_ms: Option<u64>,
    /// Highest resident set size during the stage (the process's, not the children's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_kb: Option<u64>,
}

/// A measurement in progress: started before a stage, finished after it.
#[derive(Debug)]
pub struct Meter {
    t0: Instant,
    cpu0: Option<u64>,
}

impl Meter {
    /// Start measuring. The peak-memory mark is reset, so the peak is this stage's own and not
    /// an earlier stage's model that has since been dropped.
    pub fn start() -> Self {
        // Writing 5 to clear_refs resets VmHWM (Linux ≥ 4.0); without it the peak is the
        // process's so far, which is still an upper bound.
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        Self { t0: Instant::now(), cpu0: cpu_ms() }
    }

    pub fn finish(&self) -> Usage {
        Usage {
            wall_ms: self.t0.elapsed().as_millis() as u64,
            cpu_ms: match (self.cpu0, cpu_ms()) {
                (Some(a), Some(b)) => Some(b.saturating_sub(a)),
                _ => None,
            },
            peak_rss_kb: peak_rss_kb(),
        }
    }
}

/// CPU time of this process and its waited-for children, in ms (`/proc/self/stat` fields 14–17).
fn cpu_ms() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_stat_cpu_ticks(&stat).map(|ticks| ticks * 1000 / CLOCK_TICKS_PER_SEC)
}

/// `sysconf(_SC_CLK_TCK)`: 100 on every Linux architecture Redub builds for (the kernel's
/// USER_HZ, fixed by its ABI), so no libc call is needed.
const CLOCK_TICKS_PER_SEC: u64 = 100;

/// utime + stime + cutime + cstime of a `/proc/<pid>/stat` line. The command name (field 2) may
/// hold spaces and parentheses, so fields are counted from the last `)`.
fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // After ")": field 3 (state) is index 0, so utime (14) is index 11 … cstime (17) index 14.
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let mut sum = 0u64;
    for i in 11..=14 {
        sum += fields.get(i)?.parse::<i64>().ok()?.max(0) as u64;
    }
    Some(sum)
}

/// VmHWM of `/proc/self/status`, in kB.
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_status_kb(&status, "VmHWM:")
}

fn parse_status_kb(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|l| l.strip_prefix(field)).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cpu_fields_are_counted_after_the_command_name() {
        // A command name with a space and a parenthesis must not shift the fields.
        let line = "4242 (a b) c) S 1 2 3 4 5 6 7 8 9 10 150 25 7 3 20 0 1 0 100 200 300";
        assert_eq!(parse_stat_cpu_ticks(line), Some(150 + 25 + 7 + 3));
        assert_eq!(parse_stat_cpu_ticks("garbage"), None);
    }

    #[test]
    fn peak_memory_is_read_in_kilobytes() {
        let status = "Name:\tredub\nVmPeak:\t  900 kB\nVmHWM:\t  123456 kB\nVmRSS:\t 1000 kB\n";
        assert_eq!(parse_status_kb(status, "VmHWM:"), Some(123_456));
        assert_eq!(parse_status_kb(status, "VmSwap:"), None);
    }

    #[test]
    fn cpu_time_counts_this_process_and_the_programs_it_waited_for() {
        if !cfg!(target_os = "linux") {
            return;
        }
        // Work bounded by CPU time, not wall time: a loaded machine stretches the wall only.
        let m = Meter::start();
        let start = cpu_ms().unwrap();
        let mut x = 0u64;
        while cpu_ms().unwrap() < start + 200 {
            for _ in 0..100_000 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
        }
        std::hint::black_box(x);
        let own = m.finish();
        // CPU time is the whole process's: other test threads add theirs, so the wall clock may
        // read far less than 200 ms here and is not checked against it.
        assert!(own.cpu_ms.unwrap() >= 200 && own.wall_ms > 0, "{own:?}");
        assert!(own.peak_rss_kb.unwrap() > 1000, "{own:?}");
        // A child's CPU time is added once it has been waited for.
        let m = Meter::start();
        let status = std::process::Command::new("sh")
            .args(["-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done"])
            .status()
            .unwrap();
        assert!(status.success());
        let child = m.finish();
        assert!(child.cpu_ms.unwrap() >= 50, "the shell's loop is counted: {child:?}");
    }
}
