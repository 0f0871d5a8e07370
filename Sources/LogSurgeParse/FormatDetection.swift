extension AccessLogParser {
    /// Picks the format that the most sample lines parse under.
    ///
    /// Every format in `LogFormat.allCases` parses every line; the format with the highest
    /// count wins. Ties go to the more specific format (vhost_combined > combined >
    /// vhost_common > common), so a combined log, whose lines are also valid common lines,
    /// is detected as combined. Returns `nil` when no line parses under any format.
    public static func detectFormat(_ lines: [UnsafeRawBufferPointer]) -> LogFormat? {
        var best: (format: LogFormat, count: Int)? = nil
        for format in LogFormat.bySpecificity {
            var parser = AccessLogParser(format: format)
            var count = 0
            for line in lines {
                if case .parsed = parser.parse(line) { count += 1 }
            }
            // Strictly greater: an equal count keeps the more specific format seen first.
            if count > 0, count > (best?.count ?? 0) { best = (format, count) }
        }
        return best?.format
    }

    /// Splits the first lines of `chunk` at `"\n"` and picks their format with `detectFormat(_:)`.
    ///
    /// Empty lines are skipped and do not count towards `maxLines`. Text after the last
    /// `"\n"` is used only when the chunk holds no `"\n"` at all, because a chunk cut from the
    /// head of a file usually ends in a partial line, which would wrongly favour common
    /// over combined. By default, up to 200 lines are examined.
    public static func detectFormat(chunk: UnsafeRawBufferPointer, maxLines: Int = 200) -> LogFormat? {
        detectFormat(LineFormat.lines(of: chunk, maxLines: maxLines))
    }
}
