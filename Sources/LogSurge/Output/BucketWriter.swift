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
            for row in rows {
                let c = row.counts
                try sink.write("\(UTCMinute.format(row.minute)),\(Escaping.csv(row.site)),\(row.country),\(c.requests),\(c.status2xx),\(c.status3xx),\(c.status4xx),\(c.status5xx),\(c.bytes)\n")
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
}
