/// Parses W3C extended logs (IIS, CloudFront standard logs): columns named by a `#Fields:`
/// directive, separated by spaces (IIS) or tabs (CloudFront), `-` for an empty value, times in UTC.
///
/// Directive lines (`#Version:`, `#Software:`, `#Date:`, `#Fields:`) are not log lines: they
/// give `.directive`. A `#Fields:` line replaces the columns from the next line on, so a log
/// whose columns change mid-file (IIS after a configuration change, files concatenated) is read
/// with the right ones; data lines before any `#Fields:` are `bad_format`. Each line is split
/// at tabs when it holds one, else at spaces.
///
/// Columns: `date` and `time` (UTC), `c-ip` (the client), `sc-status`, `sc-bytes`,
/// `cs-uri-stem` (the path), `x-host-header` (CloudFront: the host the visitor asked for) or
/// `cs(Host)` / `cs-host` (the site), and request headers as `cs(Name)` or CloudFront's
/// `x-forwarded-for` for `--real-ip` and `--country-from`; every other column is skipped.
public struct W3CParser: Sendable {
    private let headers: HeaderRoles
    private var spaced: TemplateParser?
    private var tabbed: TemplateParser?
    /// The `#Fields:` line (its text after the colon) in effect.
    public private(set) var fieldsLine: [UInt8]?
    /// Whether `ParsedLine.path` is wanted. By default, true.
    public var wantsPath = true {
        didSet {
            spaced?.wantsPath = wantsPath
            tabbed?.wantsPath = wantsPath
        }
    }

    /// A parser starting with the columns of `fieldsLine` (the text after `#Fields:`), if known.
    public init(fieldsLine: [UInt8]?, headers: HeaderRoles = HeaderRoles()) {
        self.headers = headers
        if let fieldsLine { use(fieldsLine) }
    }

    public mutating func parse(_ line: UnsafeRawBufferPointer) -> ParseResult {
        var count = line.count
        // In bounds: count - 1 is read only when count > 0.
        if count > 0, line[count - 1] == ASCII.carriageReturn { count -= 1 }
        guard count > 0, let base = line.baseAddress else { return .malformed(.empty) }
        guard count <= AccessLogParser.maxLineLength else { return .malformed(.tooLong) }
        let b = UnsafeRawBufferPointer(start: base, count: count)
        // In bounds: count > 0.
        if b[0] == ASCII.hash {
            if let columns = Self.fieldsDirective(b) { use(Array(columns)) }
            return .directive
        }
        if memchr(base, Int32(ASCII.tab), count) != nil {
            guard tabbed != nil else { return .malformed(.badFormat) }
            return tabbed!.parse(b)
        }
        guard spaced != nil else { return b.allSatisfy({ $0 == ASCII.space }) ? .malformed(.empty) : .malformed(.badFormat) }
        return spaced!.parse(b)
    }

    /// The text after `#Fields:` when `line` is that directive.
    public static func fieldsDirective(_ line: UnsafeRawBufferPointer) -> Slice<UnsafeRawBufferPointer>? {
        let prefix = Array("#fields:".utf8)
        guard line.count >= prefix.count else { return nil }
        for (offset, byte) in prefix.enumerated() where line[offset] | (isLetter(line[offset]) ? 0x20 : 0) != byte { return nil }
        return line[prefix.count...]
    }

    private mutating func use(_ fieldsLine: [UInt8]) {
        self.fieldsLine = fieldsLine
        let names = fieldsLine.split(whereSeparator: { $0 == ASCII.space || $0 == ASCII.tab || $0 == ASCII.carriageReturn })
            .map { String(decoding: $0, as: UTF8.self) }
        spaced = Self.template(columns: names, separator: ASCII.space).map { TemplateParser(template: $0.binding(headers)) }
        tabbed = Self.template(columns: names, separator: ASCII.tab).map { TemplateParser(template: $0.binding(headers)) }
        spaced?.wantsPath = wantsPath
        tabbed?.wantsPath = wantsPath
    }

    /// The template of lines with `columns` separated by `separator`; nil when they lack a
    /// date and time, a status or a client (or a forwarded header).
    static func template(columns: [String], separator: UInt8) -> LogTemplate? {
        var builder = TemplateBuilder()
        let dash = UInt8(ascii: "-"), colon = UInt8(ascii: ":")
        for (index, column) in columns.enumerated() {
            let name = column.lowercased()
            switch name {
            case "date":
                builder.field(FieldSpec(shape: .timePiece(.year), role: .time), name: column)
                builder.literal([dash])
                builder.field(FieldSpec(shape: .timePiece(.month), role: .time), name: column)
                builder.literal([dash])
                builder.field(FieldSpec(shape: .timePiece(.day), role: .time), name: column)
            case "time":
                builder.field(FieldSpec(shape: .timePiece(.hour), role: .time), name: column)
                builder.literal([colon])
                builder.field(FieldSpec(shape: .timePiece(.minute), role: .time), name: column)
                builder.field(FieldSpec(shape: .timePiece(.optionalSeconds), role: .time), name: column)
            case "c-ip": builder.field(FieldSpec(shape: .token, role: .client), name: column)
            case "sc-status": builder.field(FieldSpec(shape: .token, role: .status), name: column)
            case "sc-bytes": builder.field(FieldSpec(shape: .token, role: .size), name: column)
            case "cs-uri-stem": builder.field(FieldSpec(shape: .token, role: .path), name: column)
            case "x-host-header": builder.field(FieldSpec(shape: .token, role: .host, rank: 0), name: column)
            case "cs(host)", "cs-host": builder.field(FieldSpec(shape: .token, role: .host, rank: 1, header: "host"), name: column)
            default:
                var header = name
                if header.hasPrefix("cs("), header.hasSuffix(")") { header = String(header.dropFirst(3).dropLast()) }
                builder.field(FieldSpec(shape: .token, header: HeaderName(header).normalized), name: column)
            }
            if index + 1 < columns.count { builder.literal([separator]) }
        }
        let forwarded = Set(["x_forwarded_for"])
        return try? builder.build(dialect: .w3c, source: "#Fields: " + columns.joined(separator: " "), clientHeaders: forwarded)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
