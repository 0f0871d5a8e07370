import Foundation
import LogSurgeInput
import LogSurgeGeo
import LogSurgeParse
import LogSurgeCore
@_spi(Pipeline) import LogSurgeAggregate
import LogSurgeDetect

/// Reads what `logsurge detect` takes: bucket exports (CSV or JSON lines, as `--buckets` writes them) and
/// plain `timestamp,value` count series at any regular interval.
public enum CountSeriesReader {
    /// A plain series, as the detectors take it: one value per step.
    public typealias Series = CountSeries

    /// What one file held.
    public enum Content: Sendable {
        case buckets(MinuteBuckets)
        case series(Series)
    }

    public struct ReadError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Reads `path`, deciding from its first line whether it is a bucket export or a plain series.
    /// `skipped` counts lines that could not be read (and were left out). The file is read a
    /// line at a time: bucket rows go straight into `MinuteBuckets` (which keeps memory
    /// bounded), and a line longer than `longestLine` is skipped without being held.
    public static func read(path: String) throws(ReadError) -> (content: Content, skipped: Int) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw ReadError(description: "\(path): cannot read: \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var kind: Bool?  // true: buckets
        var jsonLines = false
        var buckets = MinuteBuckets()
        var seriesLines: [Substring] = []
        var skipped = 0
        // The header without `clients`: files written before that column are buckets too.
        let header = Array(BucketFile.columns.dropLast().joined(separator: ",").utf8)
        func addRow(_ row: BucketRow?) {
            guard let row else {
                skipped += 1
                return
            }
            buckets.add(
                minute: row.minute, site: row.site, country: row.country, counts: row.counts,
                clients: ClientTally(reported: row.clients))
        }
        let failure = LineReader.forEachLine(of: descriptor, limit: longestLine) { bytes, cut in
            guard !bytes.isEmpty || cut else { return }
            guard let isBuckets = kind else {
                // A CSV export starts with its header, a JSON-lines one with a bucket object (a
                // byte-order mark before either, as some editors write, is not part of it).
                let bytes = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? Array(bytes.dropFirst(3)) : bytes
                jsonLines = bytes.first == 0x7B
                kind = bytes.starts(with: header) || jsonLines
                if jsonLines {
                    addRow(BucketFile.row(jsonLine: Substring(String(decoding: bytes, as: UTF8.self))))
                } else if kind == false {
                    seriesLines.append(Substring(String(decoding: bytes, as: UTF8.self)))
                }
                return
            }
            guard !cut else {
                skipped += 1
                return
            }
            let line = Substring(String(decoding: bytes, as: UTF8.self))
            if isBuckets {
                addRow(jsonLines ? BucketFile.row(jsonLine: line) : BucketFile.row(line))
            } else {
                seriesLines.append(line)
            }
        }
        if let failure { throw ReadError(description: "\(path): cannot read: \(String(cString: strerror(failure)))") }
        guard let isBuckets = kind else { throw ReadError(description: "\(path): empty file") }
        if isBuckets { return (.buckets(buckets), skipped) }
        let series = try readSeries(seriesLines, path: path)
        return (series.content, series.skipped + skipped)
    }

    /// Longest line read; a longer one is skipped (counted).
    public static let longestLine = Limits.longestLine

    private static func readSeries(_ lines: [Substring], path: String) throws(ReadError) -> (content: Content, skipped: Int) {
        var points: [(minute: Int32, value: Int)] = []
        var skipped = 0
        for (index, line) in lines.enumerated() {
            let fields = Escaping.csvFields(line)
            guard fields.count == 2, let minute = timestamp(fields[0].trimmingCharacters(in: .whitespaces)),
                let value = Double(fields[1].trimmingCharacters(in: .whitespaces)), value >= 0, value < 1e15
            else {
                if index > 0 { skipped += 1 }  // a first line that does not parse is a header
                continue
            }
            points.append((minute, Int(value.rounded())))
        }
        points.sort { $0.minute < $1.minute }
        guard points.count >= 2 else { throw ReadError(description: "\(path): fewer than two timestamp,value rows") }
        // The interval: the most common gap between consecutive timestamps (in Int: minutes
        // thousands of years apart do not fit a difference of Int32).
        var gaps: [Int: Int] = [:]
        for (a, b) in zip(points, points.dropFirst()) where b.minute > a.minute { gaps[Int(b.minute) - Int(a.minute), default: 0] += 1 }
        guard let step = gaps.max(by: { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key })?.key,
            step <= 1440 * 366
        else {
            throw ReadError(description: "\(path): no regular interval of a year or less between its timestamps")
        }
        // The grid: the phase (minute modulo the interval) most points share.
        func phase(_ minute: Int32) -> Int { ((Int(minute) % step) + step) % step }
        var phases: [Int: Int] = [:]
        for point in points { phases[phase(point.minute), default: 0] += 1 }
        let grid = phases.max(by: { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key })!.key
        let offGrid = points.filter { phase($0.minute) != grid }.count
        guard offGrid * 10 <= points.count else {
            throw ReadError(description: "\(path): timestamps are not at a regular interval (most are \(step) min apart)")
        }
        // Merge duplicates; drop points off the grid.
        var merged: [(minute: Int32, value: Int)] = []
        for point in points where phase(point.minute) == grid {
            if merged.last?.minute == point.minute {
                // Sums of values each below 1e15 stop there rather than overflow.
                merged[merged.count - 1].value = min(merged[merged.count - 1].value + point.value, 999_999_999_999_999)
            } else {
                merged.append(point)
            }
        }
        skipped += points.count - merged.count
        let name = (URL(fileURLWithPath: path).lastPathComponent as NSString).deletingPathExtension
        return (.series(Series(name: name, stepMinutes: step, points: merged)), skipped)
    }

    /// `YYYY-MM-DD[T ]HH:MM[:SS[.fff]][Z|±HH:MM|±HHMM]` or a bare `YYYY-MM-DD` (a daily
    /// series), as a UTC minute (seconds dropped).
    package static func timestamp(_ text: String) -> Int32? {
        let bytes = Array(text.utf8)
        if bytes.count == 10 { return timestamp(text + "T00:00Z") }
        func digits(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[from..<(from + count)] {
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            return value
        }
        guard bytes.count >= 16, bytes[4] == 0x2D, bytes[7] == 0x2D, bytes[10] == 0x54 || bytes[10] == 0x20, bytes[13] == 0x3A,
            let year = digits(0, 4), let month = digits(5, 2), let day = digits(8, 2),
            let hour = digits(11, 2), let minute = digits(14, 2)
        else { return nil }
        var index = 16
        if index < bytes.count, bytes[index] == 0x3A {
            guard let second = digits(index + 1, 2), second <= 60 else { return nil }
            index += 3
            if index < bytes.count, bytes[index] == 0x2E {
                index += 1
                while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 { index += 1 }
            }
        }
        var offset = 0
        if index < bytes.count {
            switch bytes[index] {
            case 0x5A where index + 1 == bytes.count: break
            case 0x2B, 0x2D:
                let sign = bytes[index] == 0x2D ? -1 : 1
                guard let hours = digits(index + 1, 2) else { return nil }
                var rest = index + 3
                if rest < bytes.count, bytes[rest] == 0x3A { rest += 1 }
                guard let minutes = digits(rest, 2), rest + 2 == bytes.count, hours <= 14, minutes < 60 else { return nil }
                offset = sign * (hours * 60 + minutes)
            default: return nil
            }
        }
        guard let local = UTCMinute.localMinute(year: year, month: month, day: day, hour: hour, minute: minute) else { return nil }
        return UTCMinute.checked(local - offset)
    }
}
