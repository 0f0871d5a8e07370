import LogSurgeCore

/// Each site's hours with requests, counted as a run's buckets are spilled in order, so that
/// the detectors of a finished run need no pass over every row to learn them (a year of 50
/// quiet sites: 2 M rows read back and merged from 32 runs, a tenth of the run).
///
/// A run's buckets come by minute; runs usually follow one another in time, sharing at most an
/// hour at their seam, which counts once. A run that starts before the latest hour counted
/// (lines out of order, or several inputs spanning the same days) makes the counts unknown:
/// `hours` is then nil, and a caller counts them from the rows.
struct SiteHours: Sendable {
    /// Hours counted for each site, by index.
    private var counted: [Int] = []
    /// The last hour counted for each site, by index (`.min`: none).
    private var lastHour: [Int32] = []
    /// The latest hour counted for any site.
    private var through: Int32 = .min
    private(set) var exact = true

    /// The hour that holds `minute` (minutes before 1970 included).
    @inline(__always)
    static func hour(of minute: Int32) -> Int32 {
        Int32(UTCMinute.floorDiv(Int(minute), 60))
    }

    /// Counts the hours of one run's buckets, `keys` in the order of its rows (minute first).
    mutating func count(run keys: some Sequence<UInt64>, siteCount: Int) {
        guard exact else { return }
        if counted.count < siteCount {
            counted += repeatElement(0, count: siteCount - counted.count)
            lastHour += repeatElement(.min, count: siteCount - lastHour.count)
        }
        var first = true
        for raw in keys {
            let key = PackedKey(rawValue: raw)
            let hour = Self.hour(of: key.minute), site = Int(key.site)
            if first {
                // At or after every hour counted: only the seam's hour can have been seen.
                guard hour >= through else {
                    exact = false
                    return
                }
                first = false
            }
            if hour != lastHour[site] {
                counted[site] += 1
                lastHour[site] = hour
            }
            through = hour
        }
    }

    /// Each site's hours with requests (by index, `siteCount` of them), or nil if unknown.
    func hours(siteCount: Int) -> [Int]? {
        guard exact else { return nil }
        return counted + repeatElement(0, count: max(0, siteCount - counted.count))
    }
}
