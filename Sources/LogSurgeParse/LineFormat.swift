/// A format an input is read with: a named one (`--format`) or the server's own format string
/// (`--log-format`).
///
/// | name | what it reads |
/// |---|---|
/// | `combined`, `common`, `vhost_combined`, `vhost_common` | Apache's and nginx's default layouts (`AccessLogParser`) |
/// | `main` | nginx's stock `log_format main`: combined plus `"$http_x_forwarded_for"` |
/// | `xff_combined` | Apache's proxy layout: combined with `%{X-Forwarded-For}i` in place of `%h` |
/// | `json` | one JSON object a line, keys by their usual names (`JSONFields.generic`) |
/// | `caddy` | Caddy's JSON access log |
/// | `alb` | AWS Application Load Balancer access logs |
/// | `w3c` | W3C extended logs with `#Fields:` (IIS, CloudFront standard logs) |
public struct LineFormat: Sendable, Hashable, CustomStringConvertible {
    /// How lines of the format are read.
    public enum Body: Sendable, Hashable {
        case builtin(LogFormat)
        case template(LogTemplate)
        case json(JSONFields)
        /// W3C, starting with the columns of this `#Fields:` line (the text after the colon), if known.
        case w3c(fieldsLine: [UInt8]?)
    }

    /// The name in reports and `--format`; `log-format` for a format string.
    public let name: String
    public let body: Body
    /// A header whose chain is the client when the format logs no client address of its own
    /// (`xff_combined`), used as if `--real-ip` named it.
    public let impliedForwarded: HeaderName?

    public init(name: String, body: Body, impliedForwarded: HeaderName? = nil) {
        self.name = name
        self.body = body
        self.impliedForwarded = impliedForwarded
    }

    public var description: String { name }

    /// The named formats, in the order `--format` lists them.
    public static let named: [LineFormat] =
        LogFormat.allCases.map { LineFormat(name: $0.rawValue, body: .builtin($0)) } + [
            main, xffCombined, LineFormat(name: "json", body: .json(.generic)), LineFormat(name: "caddy", body: .json(.caddy)),
            alb, LineFormat(name: "w3c", body: .w3c(fieldsLine: nil)),
        ]

    /// The named format called `name`, if any.
    public static func named(_ name: String) -> LineFormat? {
        named.first { $0.name == name }
    }

    /// One of the four built-in layouts.
    public init(_ format: LogFormat) {
        self.init(name: format.rawValue, body: .builtin(format))
    }

    /// The built-in layouts by name, as `LineFormat` values.
    public static let combined = LineFormat(.combined)
    public static let common = LineFormat(.common)
    public static let vhostCombined = LineFormat(.vhostCombined)
    public static let vhostCommon = LineFormat(.vhostCommon)

    /// nginx's stock `log_format main`.
    public static let main = LineFormat(
        name: "main",
        body: .template(
            compiled(
                #"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for""#
            )))

    /// Apache behind a proxy: `LogFormat "%{X-Forwarded-For}i %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"" proxy`.
    public static let xffCombined = LineFormat(
        name: "xff_combined",
        body: .template(
            compiled(#"%{X-Forwarded-For}i %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i""#, clientHeaders: ["x_forwarded_for"])),
        impliedForwarded: HeaderName("X-Forwarded-For"))

    /// AWS Application Load Balancer: `type time elb client:port target:port request_processing_time
    /// target_processing_time response_processing_time elb_status_code target_status_code
    /// received_bytes sent_bytes "request" "user_agent" …`; the site is the host of the request's URL.
    public static let alb: LineFormat = {
        var template = compiled(
            #"$type $time_iso8601 $elb $remote_addr:$remote_port $target $request_processing_time $target_processing_time $response_processing_time $status $target_status_code $received_bytes $body_bytes_sent "$request" "$http_user_agent""#
        )
        template.hostFromRequestURL = true
        return LineFormat(name: "alb", body: .template(template))
    }()

    private static func compiled(_ string: String, clientHeaders: Set<String> = []) -> LogTemplate {
        guard case .template(let template) = try? FormatString.compile(string, clientHeaders: clientHeaders) else {
            preconditionFailure("a named format's string does not compile: \(string)")
        }
        return template
    }

    /// The format of an `--log-format` string.
    public static func compile(_ string: String, clientHeaders: Set<String> = []) throws(FormatError) -> LineFormat {
        switch try FormatString.compile(string, clientHeaders: clientHeaders) {
        case .template(let template): return LineFormat(name: "log-format", body: .template(template))
        case .json(let fields): return LineFormat(name: "log-format", body: .json(fields))
        }
    }

    /// The request headers the format logs (normalised); nil when it may log any (JSON, W3C).
    public var loggedHeaders: [String]? {
        switch body {
        case .builtin: []
        case .template(let template): template.loggedHeaders
        case .json(let fields): fields.loggedHeaders
        case .w3c: nil
        }
    }

    /// Whether the format's times carry no zone (read as UTC).
    public var timeWithoutZone: Bool {
        if case .template(let template) = body { return template.timeWithoutZone }
        return false
    }

    /// Whether a W3C format: its inputs are read in order by one reader, which follows `#Fields:`.
    public var isW3C: Bool {
        if case .w3c = body { return true }
        return false
    }

    /// The same format starting with other W3C columns.
    public func withFieldsLine(_ line: [UInt8]?) -> LineFormat {
        guard case .w3c = body else { return self }
        return LineFormat(name: name, body: .w3c(fieldsLine: line), impliedForwarded: impliedForwarded)
    }

    /// The headers playing roles for this format: the `--real-ip` and `--country-from` ones,
    /// or the format's implied chain header when `--real-ip` was not given or names a header
    /// the format does not log (the implied chain is then its only client).
    public func roles(_ headers: HeaderRoles) -> HeaderRoles {
        var roles = headers
        if let impliedForwarded, roles.forwarded.map({ !(loggedHeaders ?? []).contains($0.normalized) }) ?? true {
            roles.forwarded = impliedForwarded
        }
        return roles
    }

    /// A parser for lines of this format, with `headers` playing their roles.
    public func parser(headers: HeaderRoles = HeaderRoles()) -> LineParser {
        let roles = roles(headers)
        switch body {
        case .builtin(let format): return .builtin(AccessLogParser(format: format))
        case .template(let template): return .template(TemplateParser(template: template.binding(roles)))
        case .json(let fields):
            return .json(
                JSONLineParser(fields: fields.name == JSONFields.templateName ? fields.bindingTemplate(roles) : fields.binding(roles)))
        case .w3c(let line): return .w3c(W3CParser(fieldsLine: line, headers: roles))
        }
    }
}

/// A parser of any format, to switch on once per chunk: each case's `parse` is then called
/// directly, so the per-line path has no dynamic dispatch.
public enum LineParser: Sendable {
    case builtin(AccessLogParser)
    case template(TemplateParser)
    case json(JSONLineParser)
    case w3c(W3CParser)

    /// Parses one line (convenient for tests and detection; the pipeline calls each parser itself).
    public mutating func parse(_ line: UnsafeRawBufferPointer) -> ParseResult {
        switch self {
        case .builtin(var parser):
            defer { self = .builtin(parser) }
            return parser.parse(line)
        case .template(var parser):
            defer { self = .template(parser) }
            return parser.parse(line)
        case .json(var parser):
            defer { self = .json(parser) }
            return parser.parse(line)
        case .w3c(var parser):
            defer { self = .w3c(parser) }
            return parser.parse(line)
        }
    }

    /// The same parser without what it learnt from earlier lines: every state but JSON's key
    /// predictions is a value, so a copy is fresh already.
    package func fresh() -> LineParser {
        if case .json(let parser) = self { return .json(parser.fresh()) }
        return self
    }

    /// Whether paths are wanted.
    public var wantsPath: Bool {
        get {
            switch self {
            case .builtin(let parser): parser.wantsPath
            case .template(let parser): parser.wantsPath
            case .json(let parser): parser.wantsPath
            case .w3c(let parser): parser.wantsPath
            }
        }
        set {
            switch self {
            case .builtin(var parser):
                parser.wantsPath = newValue
                self = .builtin(parser)
            case .template(var parser):
                parser.wantsPath = newValue
                self = .template(parser)
            case .json(var parser):
                parser.wantsPath = newValue
                self = .json(parser)
            case .w3c(var parser):
                parser.wantsPath = newValue
                self = .w3c(parser)
            }
        }
    }
}

extension LineFormat {
    /// The detection preference when formats parse equally many lines: the most specific
    /// first (`main` lines are combined lines with one more field; a one-address
    /// `xff_combined` line is a combined line).
    static var bySpecificity: [LineFormat] {
        let byName = Dictionary(uniqueKeysWithValues: named.map { ($0.name, $0) })
        return ["vhost_combined", "main", "combined", "xff_combined", "vhost_common", "common", "caddy", "json", "alb", "w3c"]
            .compactMap { byName[$0] }
    }

    /// The named format that the most of `lines` parse under; ties go to the more specific.
    /// Nil when no line parses under any.
    public static func detect(_ lines: [UnsafeRawBufferPointer]) -> LineFormat? {
        var best: (format: LineFormat, count: Int)? = nil
        for format in bySpecificity {
            var parser = format.parser()
            var count = 0
            for line in lines {
                // A W3C directive is evidence of the format too: a log of headers only is W3C.
                switch parser.parse(line) {
                case .parsed, .directive: count += 1
                case .malformed: break
                }
            }
            // Strictly greater: an equal count keeps the more specific format seen first.
            if count > 0, count > (best?.count ?? 0) { best = (format, count) }
        }
        return best?.format
    }

    /// Splits the first lines of `chunk` at `"\n"` and detects their format.
    ///
    /// Empty lines are skipped and do not count towards `maxLines`. Text after the last `"\n"`
    /// is used only when the chunk holds no `"\n"` at all (a partial last line would favour
    /// common over combined). By default, up to 200 lines are examined.
    public static func detect(chunk: UnsafeRawBufferPointer, maxLines: Int = 200) -> LineFormat? {
        detect(lines(of: chunk, maxLines: maxLines))
    }

    /// The first complete lines of `chunk`, at most `maxLines` (empty ones skipped).
    public static func lines(of chunk: UnsafeRawBufferPointer, maxLines: Int) -> [UnsafeRawBufferPointer] {
        var lines: [UnsafeRawBufferPointer] = []
        var start = 0
        while lines.count < maxLines, start < chunk.count {
            let newline = chunk.firstIndex(of: ASCII.newline, from: start, to: chunk.count)
            if newline == chunk.count, start > 0 { break }  // a partial last line
            // Stays inside `chunk`: start <= newline <= chunk.count.
            let line = ByteOrderMark.dropped(from: UnsafeRawBufferPointer(rebasing: chunk[start..<newline]))
            if !line.isEmpty { lines.append(line) }
            start = newline + 1
        }
        return lines
    }
}

/// What the chunk loop needs of a parser; each parser type is a value kept per worker.
public protocol LineParsing: Sendable {
    /// Parses one line (without its `"\n"`); ranges in the result are offsets into `line`.
    mutating func parse(_ line: UnsafeRawBufferPointer) -> ParseResult
}

extension AccessLogParser: LineParsing {}
extension TemplateParser: LineParsing {}
extension JSONLineParser: LineParsing {}
extension W3CParser: LineParsing {}
