import LogSurgeParse

/// Writes the per-minute buckets as the contract's CSV or as JSON lines.
///
/// The column names are the wire format: `BucketWriter.columns` is their one declaration.
public enum BucketWriter {
    public enum Format: Sendable {
        case csv, jsonLines

        /// JSON lines when `path` ends in `.jsonl`, CSV otherwise.
        public init(path: String) { self = path.hasSuffix(".jsonl") ? .jsonLines : .csv }
    }

    public static let columns = ["minute", "site", "country", "requests", "status_2xx", "status_3xx",
                                 "status_4xx", "status_5xx", "bytes"]

    public static func write(_ rows: some Sequence<BucketRow>, format: Format, to sink: OutputSink) throws(OutputError) {
        switch format {
        case .csv:
            try sink.write(columns.joined(separator: ",") + "\n")
            // Rows come sorted by minute then site: each minute and site is formatted once.
            var line: [UInt8] = []
            var minute: (value: Int32, text: [UInt8])?
            var site: (name: String, text: [UInt8])?
            for row in rows {
                if minute?.value != row.minute { minute = (row.minute, Array(UTCMinute.format(row.minute).utf8)) }
                if site?.name != row.site { site = (row.site, Array(Escaping.csv(row.site).utf8)) }
                let c = row.counts
                line.removeAll(keepingCapacity: true)
                line += minute!.text
                line.append(0x2C)
                line += site!.text
                line.append(0x2C)
                line += row.country.description.utf8
                appendField(UInt64(c.requests), to: &line)
                appendField(UInt64(c.status2xx), to: &line)
                appendField(UInt64(c.status3xx), to: &line)
                appendField(UInt64(c.status4xx), to: &line)
                appendField(UInt64(c.status5xx), to: &line)
                appendField(c.bytes, to: &line)
                line.append(0x0A)
                try sink.write(bytes: line)
            }
        case .jsonLines:
            for row in rows {
                let c = row.counts
                let values = ["\"\(UTCMinute.format(row.minute))\"", Escaping.json(row.site), "\"\(row.country)\"",
                              "\(c.requests)", "\(c.status2xx)", "\(c.status3xx)", "\(c.status4xx)", "\(c.status5xx)", "\(c.bytes)"]
                let fields = zip(columns, values).map { "\"\($0)\":\($1)" }
                try sink.write("{" + fields.joined(separator: ",") + "}\n")
            }
        }
    }

    /// Appends a comma and the decimal digits of `value`.
    @inline(__always)
    private static func appendField(_ value: UInt64, to line: inout [UInt8]) {
        line.append(0x2C)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var start = 20
            var rest = value
            repeat {
                start -= 1
                // In bounds: a UInt64 has at most 20 decimal digits.
                digits[start] = UInt8(truncatingIfNeeded: rest % 10) + 0x30
                rest /= 10
            } while rest > 0
            line.append(contentsOf: UnsafeBufferPointer(rebasing: digits[start...]))
        }
    }
}
