import LogSurgeCore

/// When a series rose lately, to tell a daily routine from an event: a rise at a time of day
/// that an episode, or a routine rise, covered on each of the two days before is the series'
/// routine (a job at 02:00, office hours opening at 09:00), not raised; its steps are left out
/// of the baselines as an episode's are (learnt against the baseline they rose from, they would
/// read as the site's level), and it is known again the next day by its time. A routine alerts
/// on its first two days and not after. (Falls are not judged so: a site whose baseline learnt
/// a crawler falls below it at that hour every day, and learning those falls as routine bent
/// the level of the hours after them.)
///
/// Series of steps under an hour only (a daily series' "time of day" is every step); at most
/// `capacity` spans, a few days of them.
struct Recurrence: Equatable {
    static let capacity = 8
    /// Minutes covered by rises, oldest first, none overlapping.
    private(set) var spans: [ClosedRange<Int32>] = []

    init() {}

    /// Whether `minute` was covered on each of the two days before, within `tolerance` minutes.
    func isRoutine(at minute: Int32, tolerance: Int32) -> Bool {
        [1440, 2880].allSatisfy { (back: Int32) in
            let then = minute - back
            return spans.contains { $0.lowerBound - tolerance <= then && then <= $0.upperBound + tolerance }
        }
    }

    /// Records that the series rose over `range`: joined to the last span when within
    /// an hour of it.
    mutating func cover(_ range: ClosedRange<Int32>) {
        if let last = spans.last, range.lowerBound <= last.upperBound + 60 {
            spans[spans.count - 1] = min(last.lowerBound, range.lowerBound)...max(last.upperBound, range.upperBound)
            return
        }
        spans.append(range)
        if spans.count > Self.capacity { spans.removeFirst() }
    }
}

extension Recurrence {
    func write(to writer: inout SnapshotWriter) {
        writer.array(spans) {
            $0.int(Int($1.lowerBound)); $0.int(Int($1.upperBound))
        }
    }

    init(from reader: inout SnapshotReader) throws {
        // Minutes a log can give (`isRoutine` and `cover` reach two days and an hour past them
        // in Int32), whatever the bytes say.
        let supported = Int(UTCMinute.supported.lowerBound)...Int(UTCMinute.supported.upperBound)
        spans = try reader.array(atMost: Self.capacity) { reader in
            let from = try reader.int(), to = try reader.int()
            try reader.check(supported.contains(from) && supported.contains(to) && from <= to)
            return Int32(from)...Int32(to)
        }
        try reader.check(zip(spans, spans.dropFirst()).allSatisfy { $0.upperBound < $1.lowerBound })
    }
}
