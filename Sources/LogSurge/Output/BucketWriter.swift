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
            // Lines are formatted into a block of bytes handed to the sink when nearly full.
            var block = CSVBlock()
            var minute: (value: Int32, text: [UInt8])?
            var site: (name: String, text: [UInt8])?
            for row in rows {
                if minute?.value != row.minute { minute = (row.minute, Array(UTCMinute.format(row.minute).utf8)) }
                if site?.name != row.site { site = (row.site, Array(Escaping.csv(row.site).utf8)) }
                // A line is the two texts plus at most 2 + 6 × 21 + 3 bytes.
                if block.free < minute!.text.count + site!.text.count + 160 { try block.flush(to: sink) }
                let c = row.counts
                block.append(minute!.text)
                block.append(0x2C)
                block.append(site!.text)
                block.append(0x2C)
                let country = row.country.asciiBytes
                block.append(country.0)
                block.append(country.1)
                block.appendField(UInt64(c.requests))
                block.appendField(UInt64(c.status2xx))
                block.appendField(UInt64(c.status3xx))
                block.appendField(UInt64(c.status4xx))
                block.appendField(UInt64(c.status5xx))
                block.appendField(c.bytes)
                block.append(0x0A)
            }
            try block.flush(to: sink)
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

    /// Bytes of CSV lines on their way to the sink: written in place, with no per-line array.
    private struct CSVBlock {
        private var bytes = [UInt8](repeating: 0, count: 1 << 16)
        private var count = 0
        /// Bytes that can still be appended before `flush`; a line must fit (a long site name
        /// gets a larger block).
        var free: Int { bytes.count - count }

        mutating func flush(to sink: OutputSink) throws(OutputError) {
            try sink.write(bytes: bytes[..<count])
            count = 0
        }

        @inline(__always)
        mutating func append(_ byte: UInt8) {
            bytes[count] = byte
            count += 1
        }

        mutating func append(_ text: [UInt8]) {
            // Room for the text and the rest of its line, whatever the caller checked.
            let needed = count + text.count + 160
            if needed > bytes.count { bytes += [UInt8](repeating: 0, count: needed - bytes.count) }
            bytes.withUnsafeMutableBufferPointer { target in
                text.withUnsafeBufferPointer { source in
                    // In bounds: count + text.count <= bytes.count, ensured just above.
                    UnsafeMutableRawPointer(target.baseAddress! + count).copyMemory(from: source.baseAddress!, byteCount: source.count)
                }
            }
            count += text.count
        }

        /// Appends a comma and the decimal digits of `value` (at most 21 bytes).
        @inline(__always)
        mutating func appendField(_ value: UInt64) {
            append(0x2C)
            var digits = 1
            var rest = value / 10
            while rest > 0 {
                digits += 1
                rest /= 10
            }
            rest = value
            var position = count + digits
            repeat {
                position -= 1
                bytes[position] = UInt8(truncatingIfNeeded: rest % 10) + 0x30
                rest /= 10
            } while rest > 0
            count += digits
        }
    }
}
