import Foundation
import LogSurgeGeo
import LogSurgeParse
import LogSurgeCore
@_spi(Pipeline) import LogSurgeAggregate
import LogSurgeInput

/// The per-minute buckets as a file: the contract's CSV (`--buckets`, `logsurge state
/// --buckets`) or JSON lines, written here and read back here (`logsurge detect`).
///
/// ```
/// minute,site,country,requests,status_2xx,status_3xx,status_4xx,status_5xx,bytes,clients
/// 2016-11-09T02:00Z,www.example.org,US,412,380,20,9,3,5123456,377
/// ```
/// `minute` is the UTC minute (`YYYY-MM-DDTHH:MMZ`), `site` is CSV-escaped and neutralised
/// against spreadsheet formulas (`Escaping.csv`), `country` is an ISO code or `--`, the rest
/// are decimal counts (`clients`: distinct clients, exact up to `ClientTally.exactLimit`, an
/// estimate beyond); rows are sorted by minute, then site, then country. JSON lines carry the
/// same names as keys. The column names are the wire format: `columns` is their one declaration.
/// Files written before `clients` existed (its column missing) are read with clients unknown.
public enum BucketFile {
    public enum Format: Sendable {
        case csv, jsonLines

        /// JSON lines when `path` ends in `.jsonl`, CSV otherwise.
        public init(path: String) { self = path.hasSuffix(".jsonl") ? .jsonLines : .csv }
    }

    public static let columns = [
        "minute", "site", "country", "requests", "status_2xx", "status_3xx",
        "status_4xx", "status_5xx", "bytes", "clients",
    ]

    /// The first line of a CSV bucket file.
    public static var header: String { columns.joined(separator: ",") }

    public static func write(_ rows: some Sequence<BucketRow>, format: Format, to sink: OutputSink) throws(OutputError) {
        switch format {
        case .csv:
            try sink.write(header + "\n")
            // Rows come sorted by minute then site: each minute and site is formatted once.
            var block = CSVBlock()
            var minute: Int32?
            var minuteText: [UInt8] = []
            var site: (name: String, text: [UInt8])?
            for row in rows {
                if minute != row.minute {
                    UTCMinute.utf8(row.minute, into: &minuteText, replacing: minute)
                    minute = row.minute
                }
                if site?.name != row.site { site = (row.site, Array(Escaping.csv(row.site).utf8)) }
                try block.appendLine(
                    minute: minuteText, site: site!.text, country: row.country, counts: row.counts,
                    clients: row.clients.distinct, flushingTo: sink)
            }
            try block.flush(to: sink)
        case .jsonLines:
            try writeJSONLines(rows, to: sink)
        }
    }

    private static func writeJSONLines(_ rows: some Sequence<BucketRow>, to sink: OutputSink) throws(OutputError) {
        for row in rows {
            let c = row.counts
            let values = [
                "\"\(UTCMinute.format(row.minute))\"", Escaping.json(row.site), "\"\(row.country)\"",
                "\(c.requests)", "\(c.status2xx)", "\(c.status3xx)", "\(c.status4xx)", "\(c.status5xx)", "\(c.bytes)",
                "\(row.clients.distinct)",
            ]
            let fields = zip(columns, values).map { "\"\($0)\":\($1)" }
            try sink.write("{" + fields.joined(separator: ",") + "}\n")
        }
    }

    /// The same for a run's buckets as they come out of `MinuteBuckets`: CSV lines are made
    /// from the rows' keys, each site's text once, with no string per row.
    public static func write(_ rows: BucketRowSequence, format: Format, to sink: OutputSink) throws(OutputError) {
        guard case .csv = format else {
            try writeJSONLines(rows, to: sink)
            return
        }
        try sink.write(header + "\n")
        var block = CSVBlock()
        var siteTexts = [[UInt8]?](repeating: nil, count: rows.siteNames.count)
        // The minute's text, made again in place when the minute changes (a quiet site's rows
        // are a minute each), its date only when the day does.
        var minute: Int32?
        var minuteText: [UInt8] = []
        var iterator = rows.makeIterator()
        while let entry = iterator.nextEntry() {
            let (key, counts, clients) = (entry.key, entry.counts, entry.clients)
            if minute != key.minute {
                UTCMinute.utf8(key.minute, into: &minuteText, replacing: minute)
                minute = key.minute
            }
            let site = Int(key.site)
            if siteTexts[site] == nil { siteTexts[site] = Array(Escaping.csv(rows.siteNames[site]).utf8) }
            try block.appendLine(
                minute: minuteText, site: siteTexts[site]!, country: key.country, counts: counts,
                clients: clients.figures.distinct, flushingTo: sink)
        }
        try block.flush(to: sink)
    }

    /// The bucket of one CSV row as `write` writes it (the header excluded), or as it was
    /// written before the `clients` column; nil when the line is not one: wrong number of
    /// fields, a minute, country or count that does not parse, requests beyond 32 bits, a
    /// status column or the clients above the requests.
    public static func row(_ line: Substring) -> BucketRow? {
        let fields = Escaping.csvFields(line)
        guard fields.count == columns.count || fields.count == columns.count - 1,
            let minute = UTCMinute.parse(fields[0]),
            let country = fields[2] == "--" ? CountryCode.unknown : CountryCode(isoCode: fields[2]),
            let numbers = Optional(fields[3...].compactMap { UInt64($0) }), numbers.count == fields.count - 3
        else { return nil }
        return row(minute: minute, site: Escaping.csvUnneutralised(fields[1]), country: country, numbers: numbers)
    }

    /// A row of the numbers of `columns[3...]` (`clients` may be missing), checked.
    private static func row(minute: Int32, site: String, country: CountryCode, numbers: [UInt64]) -> BucketRow? {
        // Counts are stored in 32 bits; a status column or the clients cannot exceed the requests.
        guard numbers[0] <= UInt64(UInt32.max), numbers[1...4].allSatisfy({ $0 <= numbers[0] }),
            numbers.count == 6 || numbers[6] <= numbers[0]
        else { return nil }
        return BucketRow(
            minute: minute, site: site, country: country,
            counts: BucketCounts(
                requests: numbers[0], status2xx: numbers[1], status3xx: numbers[2],
                status4xx: numbers[3], status5xx: numbers[4], bytes: numbers[5]),
            clients: ClientFigures(distinct: numbers.count > 6 ? Int(numbers[6]) : 0))
    }

    /// The bucket of one JSON line as `write` writes it (`.jsonLines`): an object with every
    /// column as a key, `minute` and `site` and `country` strings, the counts whole numbers;
    /// other keys are allowed. Nil when the line is not one (the same rules as `row`).
    public static func row(jsonLine line: Substring) -> BucketRow? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
            let minuteText = object["minute"] as? String, let minute = UTCMinute.parse(minuteText),
            let site = object["site"] as? String, let countryText = object["country"] as? String,
            let country = countryText == "--" ? CountryCode.unknown : CountryCode(isoCode: countryText)
        else { return nil }
        var numbers: [UInt64] = []
        for column in columns[3...] {
            if column == "clients", object[column] == nil { break }  // written before it existed
            // Whole numbers only (JSONSerialization reads 12 and 12.5 alike).
            guard let number = object[column] as? NSNumber, case let value = number.uint64Value, number.stringValue == String(value)
            else { return nil }
            numbers.append(value)
        }
        return row(minute: minute, site: site, country: country, numbers: numbers)
    }

    /// Bytes of CSV lines on their way to the sink: written in place, with no per-line array,
    /// and handed to the sink when nearly full.
    private struct CSVBlock {
        private var bytes = [UInt8](repeating: 0, count: 1 << 16)
        private var count = 0

        mutating func flush(to sink: OutputSink) throws(OutputError) {
            try sink.write(bytes: bytes[..<count])
            count = 0
        }

        /// Appends one line: `minute,site,country,requests,2xx,3xx,4xx,5xx,bytes,clients`.
        @inline(__always)
        mutating func appendLine(
            minute: [UInt8], site: [UInt8], country: CountryCode, counts c: BucketCounts, clients: Int,
            flushingTo sink: OutputSink
        ) throws(OutputError) {
            // A line is the two texts plus at most 2 + 7 × 21 + 3 bytes.
            let longest = minute.count + site.count + 160
            if bytes.count - count < longest {
                try flush(to: sink)
                // A long site name gets a larger block.
                if bytes.count < longest { bytes = [UInt8](repeating: 0, count: longest) }
            }
            let country = country.asciiBytes
            count = bytes.withUnsafeMutableBufferPointer { buffer in
                // In bounds: the line takes at most `longest` bytes, and that many are free.
                var cursor = buffer.baseAddress! + count
                cursor = Self.copy(minute, to: cursor)
                cursor = Self.copy(site, to: cursor)
                cursor[0] = country.0
                cursor[1] = country.1
                cursor += 2
                cursor = Self.field(UInt64(c.requests), at: cursor)
                cursor = Self.field(UInt64(c.status2xx), at: cursor)
                cursor = Self.field(UInt64(c.status3xx), at: cursor)
                cursor = Self.field(UInt64(c.status4xx), at: cursor)
                cursor = Self.field(UInt64(c.status5xx), at: cursor)
                cursor = Self.field(c.bytes, at: cursor)
                cursor = Self.field(UInt64(clients), at: cursor)
                cursor.pointee = 0x0A
                return buffer.baseAddress!.distance(to: cursor + 1)
            }
        }

        /// Writes `text` and a comma at `cursor`; where the next byte goes.
        @inline(__always)
        private static func copy(_ text: [UInt8], to cursor: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
            text.withUnsafeBufferPointer { source in cursor.update(from: source.baseAddress!, count: source.count) }
            cursor[text.count] = 0x2C
            return cursor + text.count + 1
        }

        /// Writes a comma and the decimal digits of `value` (at most 21 bytes) at `cursor`;
        /// where the next byte goes.
        @inline(__always)
        private static func field(_ value: UInt64, at cursor: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
            cursor.pointee = 0x2C
            var digits = 1
            var power: UInt64 = 10
            while digits < 20, value >= power {
                digits += 1
                power &*= 10
            }
            // Two digits a division (by a constant: a multiplication), from the last.
            var rest = value
            var position = digits
            while rest >= 100 {
                let pair = rest % 100
                rest /= 100
                cursor[position] = UInt8(truncatingIfNeeded: pair % 10) + 0x30
                cursor[position - 1] = UInt8(truncatingIfNeeded: pair / 10) + 0x30
                position -= 2
            }
            if rest >= 10 {
                cursor[position] = UInt8(truncatingIfNeeded: rest % 10) + 0x30
                cursor[position - 1] = UInt8(truncatingIfNeeded: rest / 10) + 0x30
            } else {
                cursor[position] = UInt8(truncatingIfNeeded: rest) + 0x30
            }
            return cursor + digits + 1
        }
    }
}
