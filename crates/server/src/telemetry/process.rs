//! The process's own series (the standard `process_*` names of the Prometheus client
//! libraries) and the store's size on disk, read at scrape time: RSS, virtual memory
//! and the start time from `/proc/self/stat` and `/proc/self/status`, CPU time,
//! open and maximum file descriptors; the sizes of the store's files as the store
//! reports them (`Storage::files_on_disk`). On a system without `/proc` the
//! `process_*` series are absent.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Resident set size, bytes.
pub const RESIDENT_MEMORY: &str = "process_resident_memory_bytes";
/// Virtual memory size, bytes.
pub const VIRTUAL_MEMORY: &str = "process_virtual_memory_bytes";
/// User and system CPU time, seconds.
pub const CPU_SECONDS: &str = "process_cpu_seconds";
/// Open file descriptors.
pub const OPEN_FDS: &str = "process_open_fds";
/// The soft limit of open file descriptors.
pub const MAX_FDS: &str = "process_max_fds";
/// Start time of the process, seconds since the epoch.
pub const START_TIME: &str = "process_start_time_seconds";
/// Bytes of the store's files on disk, per file (`database`, `wal`).
pub const STORE_SIZE: &str = "modelwatch_store_size_bytes";

/// Clock ticks per second of `/proc/self/stat` (`USER_HZ`, 100 on every Linux ABI).
const USER_HZ: f64 = 100.0;

/// The label set of the store-size series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FileLabel {
    /// `database` or `wal`.
    pub file: String,
}

/// What `/proc` says about this process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessStats {
    /// Resident set size, bytes.
    pub resident_bytes: u64,
    /// Virtual memory size, bytes.
    pub virtual_bytes: u64,
    /// User plus system CPU time, seconds.
    pub cpu_seconds: f64,
    /// Start time, seconds since the epoch.
    pub start_time_seconds: f64,
    /// Open file descriptors.
    pub open_fds: Option<u64>,
    /// Soft limit of open file descriptors.
    pub max_fds: Option<u64>,
}

/// A `kB` field of `/proc/self/status`, in bytes.
fn status_kb(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Parses `/proc/self/stat`, `/proc/self/status`, the `btime` of `/proc/stat` and
/// `/proc/self/limits`.
pub fn parse(stat: &str, status: &str, system_stat: &str, limits: &str) -> Option<ProcessStats> {
    // The command name (field 2) is in parentheses and may hold spaces: count fields
    // after its closing parenthesis, where field 3 (`state`) is index 0.
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |n: usize| -> Option<f64> { fields.get(n - 3)?.parse().ok() };
    let cpu_seconds = (field(14)? + field(15)?) / USER_HZ;
    let boot_seconds: f64 = system_stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    let start_time_seconds = boot_seconds + field(22)? / USER_HZ;
    let max_fds = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|soft| soft.parse().ok());
    Some(ProcessStats {
        resident_bytes: status_kb(status, "VmRSS:")?,
        virtual_bytes: status_kb(status, "VmSize:")?,
        cpu_seconds,
        start_time_seconds,
        open_fds: None,
        max_fds,
    })
}

/// This process's statistics, if `/proc` is there.
pub fn read() -> Option<ProcessStats> {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    let mut stats = parse(
        &read("/proc/self/stat")?,
        &read("/proc/self/status")?,
        &read("/proc/stat")?,
        &read("/proc/self/limits").unwrap_or_default(),
    )?;
    stats.open_fds = std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|entries| entries.count() as u64);
    Some(stats)
}

/// The gauges, set at each scrape.
pub struct ProcessGauges {
    resident: Gauge,
    virtual_memory: Gauge,
    cpu_seconds: Counter<f64, AtomicU64>,
    open_fds: Gauge,
    max_fds: Gauge,
    start_time: Gauge<f64, AtomicU64>,
    store_size: Family<FileLabel, Gauge>,
}

impl ProcessGauges {
    /// Registers the gauges.
    pub fn register(registry: &mut Registry) -> Self {
        let gauges = Self {
            resident: Gauge::default(),
            virtual_memory: Gauge::default(),
            cpu_seconds: Counter::default(),
            open_fds: Gauge::default(),
            max_fds: Gauge::default(),
            start_time: Gauge::default(),
            store_size: Family::default(),
        };
        registry.register(
            RESIDENT_MEMORY,
            "Resident memory size in bytes",
            gauges.resident.clone(),
        );
        registry.register(
            VIRTUAL_MEMORY,
            "Virtual memory size in bytes",
            gauges.virtual_memory.clone(),
        );
        registry.register(
            CPU_SECONDS,
            "Total user and system CPU time spent in seconds",
            gauges.cpu_seconds.clone(),
        );
        registry.register(
            OPEN_FDS,
            "Number of open file descriptors",
            gauges.open_fds.clone(),
        );
        registry.register(
            MAX_FDS,
            "Maximum number of open file descriptors",
            gauges.max_fds.clone(),
        );
        registry.register(
            START_TIME,
            "Start time of the process since unix epoch in seconds",
            gauges.start_time.clone(),
        );
        registry.register(
            STORE_SIZE,
            "Bytes of the store's files on disk (database, wal)",
            gauges.store_size.clone(),
        );
        gauges
    }

    /// Reads `/proc`, and sets the sizes of the store's files (name, bytes).
    pub fn update(&self, store_files: &[(&'static str, u64)]) {
        if let Some(stats) = read() {
            self.resident.set(stats.resident_bytes as i64);
            self.virtual_memory.set(stats.virtual_bytes as i64);
            // A counter only goes up: add what has been spent since the last scrape.
            let spent = stats.cpu_seconds - self.cpu_seconds.get();
            if spent > 0.0 {
                self.cpu_seconds.inc_by(spent);
            }
            self.start_time.set(stats.start_time_seconds);
            if let Some(open) = stats.open_fds {
                self.open_fds.set(open as i64);
            }
            if let Some(max) = stats.max_fds {
                self.max_fds.set(max as i64);
            }
        }
        for (file, bytes) in store_files {
            self.store_size
                .get_or_create(&FileLabel {
                    file: (*file).into(),
                })
                .set(*bytes as i64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        // Field 14 utime = 250 ticks, 15 stime = 50, 22 starttime = 1000, 23 vsize.
        let stat = "4242 (model watch) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 1000 123456789 2000 18446744073709551615";
        let status = "Name:\tmodelwatch\nVmSize:\t  120000 kB\nVmRSS:\t    5120 kB\n";
        let system = "cpu  1 2 3\nbtime 1700000000\nprocesses 9\n";
        let limits = "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n";
        let stats = parse(stat, status, system, limits).unwrap();
        assert_eq!(stats.resident_bytes, 5120 * 1024);
        assert_eq!(stats.virtual_bytes, 120_000 * 1024);
        assert_eq!(stats.cpu_seconds, 3.0);
        assert_eq!(stats.start_time_seconds, 1_700_000_010.0);
        assert_eq!(stats.max_fds, Some(1024));
    }

    #[test]
    fn reads_this_process() {
        let stats = read().expect("/proc is readable on Linux");
        assert!(stats.resident_bytes > 1 << 20, "{stats:?}");
        assert!(stats.open_fds.unwrap() >= 3);
        let now = modelwatch_core::time::now_ms() as f64 / 1000.0;
        assert!(stats.start_time_seconds <= now + 1.0 && stats.start_time_seconds > now - 86_400.0);
    }
}
