/// Compiles the format strings servers are configured with into templates.
///
/// - nginx: a `log_format` body: `$variable` / `${variable}` and literal text, optionally led by
///   `escape=json|default|none`, and given either as the text nginx logs or as the quoted
///   strings of the configuration (`'$remote_addr - ' '"$request"'`), a whole `log_format NAME
///   …;` directive included. A body that is a JSON object is read as JSON (`JSONFields`).
/// - Apache: a `LogFormat` string: `%` directives with their modifiers and `{…}` arguments,
///   given as written in the configuration (`\"` escapes, surrounding quotes, even the whole
///   `LogFormat "…" name` line) or as the text it stands for.
///
/// The dialect is recognised from the string: Apache directives (`%h`, `%t`, `%>s`, `%{…}i` …)
/// make it Apache, `$variables` nginx.
public enum FormatString {
    /// The dialect of `string`: nil when it has neither `$variables` nor `%` directives.
    public static func dialect(of string: String) -> LogTemplate.Dialect? {
        let bytes = Array(string.utf8)
        var apache = 0, nginx = 0
        for (index, byte) in bytes.enumerated() where index + 1 < bytes.count {
            let next = bytes[index + 1]
            if byte == UInt8(ascii: "%"),
                next == UInt8(ascii: "{") || next == UInt8(ascii: ">") || next == UInt8(ascii: "<")
                    || ApacheDirective.letters.contains(next)
            {
                apache += 1
            }
            if byte == UInt8(ascii: "$"), next == UInt8(ascii: "{") || next == UInt8(ascii: "_") || isLetter(next) { nginx += 1 }
        }
        if apache == 0 && nginx == 0 { return nil }
        return apache > nginx ? .apache : .nginx
    }

    /// The nginx body or Apache string `string`, compiled: a template, or for an nginx JSON
    /// template the fields to read from each JSON line.
    ///
    /// `clientHeaders`: request headers that may stand in for a missing client address (the
    /// `--real-ip` header). Throws a `FormatError` naming what cannot be read safely.
    public static func compile(_ string: String, clientHeaders: Set<String> = []) throws(FormatError) -> CompiledFormat {
        let trimmed = string.trimmingSpaces
        guard !trimmed.isEmpty else { throw FormatError("the format string is empty") }
        switch dialect(of: trimmed) {
        case .apache: return .template(try ApacheDirective.compile(trimmed, clientHeaders: clientHeaders))
        case .nginx, .w3c: return try NginxVariable.compile(trimmed, clientHeaders: clientHeaders)
        case nil: throw FormatError("'\(string)' has neither nginx $variables nor Apache % directives")
        }
    }
}

/// What a format string compiles to.
public enum CompiledFormat: Sendable, Hashable {
    /// A line layout (`TemplateParser`).
    case template(LogTemplate)
    /// JSON lines with these fields (an nginx `escape=json` template that is a JSON object).
    case json(JSONFields)
}

/// A field candidate made from one variable or directive: its default shape, role and rank.
struct FieldSpec {
    var shape: FieldShape
    var role: FieldRole = .opaque
    var rank = 0
    var header: String? = nil
    /// Holds spaces in real logs (a request line, a user agent): only safe between quotes or last.
    var spacey = false

    static func opaque(_ shape: FieldShape = .token) -> FieldSpec { FieldSpec(shape: shape) }
}

/// The pieces of a format string, in order: literal bytes, then fields each with the literal after it.
struct TemplateBuilder {
    var leading: [UInt8] = []
    var fields: [(field: TemplateField, rank: Int)] = []
    private var specs: [FieldSpec] = []

    mutating func literal(_ bytes: some Sequence<UInt8>) {
        if fields.isEmpty { leading.append(contentsOf: bytes) } else { fields[fields.count - 1].field.literal.append(contentsOf: bytes) }
    }

    mutating func field(_ spec: FieldSpec, name: String) {
        fields.append((TemplateField(shape: spec.shape, role: spec.role, name: name, header: spec.header), spec.rank))
        specs.append(spec)
    }

    /// Turns fields between quotes into quoted fields, a host or client before `:port` into
    /// one read up to its last colon, and rejects space-holding fields that are neither
    /// quoted nor last. Then assembles the template.
    func build(dialect: LogTemplate.Dialect, source: String, clientHeaders: Set<String>) throws(FormatError) -> LogTemplate {
        var fields = self.fields
        for index in fields.indices {
            let before = index == 0 ? leading : fields[index - 1].field.literal
            let after = fields[index].field.literal
            let spec = specs[index]
            guard spec.shape == .token || spec.shape == .list else { continue }
            if before.last == UInt8(ascii: "\""), after.first == UInt8(ascii: "\"") {
                fields[index].field.shape = .quoted
            } else if after == [UInt8(ascii: ":")], spec.role == .client || spec.role == .host {
                fields[index].field.shape = .beforeLastColon
            } else if spec.spacey, index + 1 < fields.count || !after.isEmpty {
                let name = fields[index].field.name
                throw FormatError(
                    "\(name) is not between quotes and holds spaces in real logs: logsurge cannot tell where it ends (write \"\(name)\")")
            }
        }
        return try LogTemplate.assemble(
            dialect: dialect, source: source, leading: leading, fields: fields,
            clientHeaders: clientHeaders)
    }
}

// MARK: - nginx

package enum NginxVariable {
    static func compile(_ string: String, clientHeaders: Set<String>) throws(FormatError) -> CompiledFormat {
        let body = try configurationBody(string)
        let text = body.trimmingSpaces
        if text.hasPrefix("{"), text.hasSuffix("}") {
            return .json(try JSONFields.fromTemplate(text, source: string, clientHeaders: clientHeaders))
        }
        var builder = TemplateBuilder()
        let bytes = Array(body.utf8)
        var i = 0
        while i < bytes.count {
            guard bytes[i] == UInt8(ascii: "$"), i + 1 < bytes.count else {
                builder.literal([bytes[i]])
                i += 1
                continue
            }
            var name: [UInt8] = []
            if bytes[i + 1] == UInt8(ascii: "{") {
                guard let close = bytes[(i + 2)...].firstIndex(of: UInt8(ascii: "}")) else {
                    throw FormatError("'${' without its closing '}' in the format")
                }
                name = Array(bytes[(i + 2)..<close])
                i = close + 1
            } else {
                var j = i + 1
                while j < bytes.count, isLetter(bytes[j]) || isDigit(bytes[j]) || bytes[j] == UInt8(ascii: "_") { j += 1 }
                name = Array(bytes[(i + 1)..<j])
                i = j
            }
            guard !name.isEmpty else {
                builder.literal([UInt8(ascii: "$")])
                continue
            }
            let variable = String(decoding: name, as: UTF8.self)
            builder.field(spec(variable.lowercased()), name: "$" + variable)
        }
        return .template(try builder.build(dialect: .nginx, source: string, clientHeaders: clientHeaders))
    }

    /// The body nginx logs: quoted configuration strings joined, `log_format NAME`, `escape=`
    /// and a final `;` taken off. A string without quotes is the body itself.
    package static func configurationBody(_ string: String) throws(FormatError) -> String {
        var text = Substring(string.trimmingSpaces)
        if text.hasPrefix("log_format") {
            text = text.dropFirst("log_format".count).drop(while: \.isWhitespace)
            text = text.drop(while: { !$0.isWhitespace }).drop(while: \.isWhitespace)  // the name
        }
        if text.hasSuffix(";") { text = Substring(text.dropLast().trimmingSpaces) }
        if text.hasPrefix("escape=") {
            let option = text.prefix(while: { !$0.isWhitespace })
            guard ["escape=json", "escape=default", "escape=none"].contains(option) else {
                throw FormatError("unknown nginx option '\(option)': escape= takes json, default or none")
            }
            text = text.dropFirst(option.count).drop(while: \.isWhitespace)
        }
        guard let first = text.first, first == "'" || first == "\"" else { return String(text) }
        // Configuration strings: quoted parts separated by white space, backslash escapes inside.
        var body = ""
        var rest = text[...]
        while let quote = rest.first {
            guard quote == "'" || quote == "\"" else {
                throw FormatError("unexpected text '\(rest.prefix(20))' between the quoted parts of the nginx format")
            }
            var index = rest.index(after: rest.startIndex)
            var closed = false
            while index < rest.endIndex {
                let character = rest[index]
                if character == "\\", rest.index(after: index) < rest.endIndex {
                    let next = rest[rest.index(after: index)]
                    switch next {
                    case "n": body.append("\n")
                    case "t": body.append("\t")
                    case "r": body.append("\r")
                    default: body.append(next)
                    }
                    index = rest.index(index, offsetBy: 2)
                    continue
                }
                if character == quote {
                    closed = true
                    index = rest.index(after: index)
                    break
                }
                body.append(character)
                index = rest.index(after: index)
            }
            guard closed else { throw FormatError("a quoted part of the nginx format is not closed") }
            rest = rest[index...].drop(while: \.isWhitespace)
        }
        return body
    }

    /// What an nginx variable is to logsurge.
    static func spec(_ name: String) -> FieldSpec {
        switch name {
        case "remote_addr": return FieldSpec(shape: .token, role: .client, rank: 0)
        // The client a PROXY protocol header names (a load balancer speaking it), or the
        // connecting address before the realip module replaced it.
        case "proxy_protocol_addr", "realip_remote_addr": return FieldSpec(shape: .token, role: .client, rank: 1)
        case "time_local": return FieldSpec(shape: .localTime, role: .time, rank: 0)
        case "time_iso8601": return FieldSpec(shape: .isoTime, role: .time, rank: 1)
        case "msec": return FieldSpec(shape: .epoch(.seconds), role: .time, rank: 2)
        case "request": return FieldSpec(shape: .token, role: .request, spacey: true)
        case "request_uri": return FieldSpec(shape: .token, role: .path, rank: 0)
        case "uri": return FieldSpec(shape: .token, role: .path, rank: 1)
        case "document_uri": return FieldSpec(shape: .token, role: .path, rank: 2)
        case "status": return FieldSpec(shape: .token, role: .status)
        case "body_bytes_sent": return FieldSpec(shape: .token, role: .size, rank: 0)
        case "bytes_sent": return FieldSpec(shape: .token, role: .size, rank: 1)
        case "host": return FieldSpec(shape: .token, role: .host, rank: 0)
        case "http_host": return FieldSpec(shape: .token, role: .host, rank: 1, header: "host")
        case "server_name": return FieldSpec(shape: .token, role: .host, rank: 2)
        case "http_user_agent": return FieldSpec(shape: .token, header: "user_agent", spacey: true)
        case "http_cookie": return FieldSpec(shape: .token, header: "cookie", spacey: true)
        case "proxy_add_x_forwarded_for": return FieldSpec(shape: .list, header: "x_forwarded_for")
        default:
            if name.hasPrefix("http_") { return FieldSpec(shape: .list, header: String(name.dropFirst(5))) }
            if name.hasPrefix("upstream_") || name.hasPrefix("sent_http_") { return .opaque(.list) }
            // A variable named like a header (`--country-from geoip_country_code`) can play its role.
            return FieldSpec(shape: .token, header: name)
        }
    }
}

// MARK: - Apache

package enum ApacheDirective {
    /// The directive letters mod_log_config knows.
    static let letters = Set("aABbCDeFfHhiIklLmnoOpPqrRsStTuUvVXx^".utf8)

    static func compile(_ string: String, clientHeaders: Set<String>) throws(FormatError) -> LogTemplate {
        let bytes = unescape(configurationString(string))
        var builder = TemplateBuilder()
        var i = 0
        while i < bytes.count {
            guard bytes[i] == UInt8(ascii: "%") else {
                builder.literal([bytes[i]])
                i += 1
                continue
            }
            let start = i
            i += 1
            // Modifiers: < or >, then an optional ! and status codes, in any order before { or the letter.
            var final = false, original = false
            while i < bytes.count,
                [UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "!"), UInt8(ascii: ",")].contains(bytes[i]) || isDigit(bytes[i])
            {
                if bytes[i] == UInt8(ascii: ">") { final = true }
                if bytes[i] == UInt8(ascii: "<") { original = true }
                i += 1
            }
            var argument: String?
            if i < bytes.count, bytes[i] == UInt8(ascii: "{") {
                guard let close = bytes[(i + 1)...].firstIndex(of: UInt8(ascii: "}")) else {
                    throw FormatError("'%{' without its closing '}' in the format")
                }
                argument = String(decoding: bytes[(i + 1)..<close], as: UTF8.self)
                i = close + 1
            }
            while i < bytes.count, bytes[i] == UInt8(ascii: "<") || bytes[i] == UInt8(ascii: ">") {
                if bytes[i] == UInt8(ascii: ">") { final = true }
                i += 1
            }
            guard i < bytes.count else {
                throw FormatError("the format ends in an incomplete directive '\(String(decoding: bytes[start...], as: UTF8.self))'")
            }
            let letter = bytes[i]
            i += 1
            let name = String(decoding: bytes[start..<i], as: UTF8.self)
            if letter == UInt8(ascii: "%") {
                builder.literal([UInt8(ascii: "%")])
                continue
            }
            if letter == UInt8(ascii: "t") {
                try time(argument, name: name, into: &builder)
                continue
            }
            builder.field(spec(letter, argument: argument, final: final, original: original), name: name)
        }
        return try builder.build(dialect: .apache, source: string, clientHeaders: clientHeaders)
    }

    /// The string between the quotes of a `LogFormat "…" name` line (or the string itself).
    package static func configurationString(_ string: String) -> String {
        var text = Substring(string.trimmingSpaces)
        if text.hasPrefix("LogFormat") || text.hasPrefix("CustomLog") {
            text = text.drop(while: { !$0.isWhitespace }).drop(while: \.isWhitespace)
            if string.trimmingSpaces.hasPrefix("CustomLog") {
                text = text.drop(while: { !$0.isWhitespace }).drop(while: \.isWhitespace)  // the log file
            }
        }
        guard text.first == "\"" else { return String(text) }
        // Up to the closing quote that is not escaped.
        var index = text.index(after: text.startIndex)
        var escaped = false
        while index < text.endIndex {
            let character = text[index]
            if character == "\"" && !escaped { return String(text[text.index(after: text.startIndex)..<index]) }
            escaped = character == "\\" && !escaped
            index = text.index(after: index)
        }
        return String(text.dropFirst())
    }

    /// mod_log_config's escapes: `\"`, `\\`, `\n`, `\t`, `\r`.
    package static func unescape(_ string: String) -> [UInt8] {
        let bytes = Array(string.utf8)
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\\"), i + 1 < bytes.count {
                switch bytes[i + 1] {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                default: out.append(bytes[i + 1])
                }
                i += 2
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return out
    }

    /// What a directive other than `%t` is to logsurge.
    static func spec(_ letter: UInt8, argument: String?, final: Bool, original: Bool) -> FieldSpec {
        switch Character(UnicodeScalar(letter)) {
        case "a":
            return argument == "c" ? FieldSpec(shape: .token, role: .client, rank: 2) : FieldSpec(shape: .token, role: .client, rank: 0)
        case "h": return argument == nil ? FieldSpec(shape: .token, role: .client, rank: 1) : .opaque()
        case "s": return FieldSpec(shape: .token, role: .status, rank: final ? 0 : original ? 2 : 1)
        case "b": return FieldSpec(shape: .token, role: .size, rank: 0)
        case "B": return FieldSpec(shape: .token, role: .size, rank: 1)
        case "O": return FieldSpec(shape: .token, role: .size, rank: 2)
        case "r": return FieldSpec(shape: .token, role: .request, spacey: true)
        case "U": return FieldSpec(shape: .token, role: .path)
        case "v": return FieldSpec(shape: .token, role: .host, rank: 0)
        case "V": return FieldSpec(shape: .token, role: .host, rank: 1)
        case "i":
            let header = HeaderName(argument ?? "").normalized
            switch header {
            case "host": return FieldSpec(shape: .token, role: .host, rank: 2, header: header)
            case "user_agent", "cookie": return FieldSpec(shape: .token, header: header, spacey: true)
            default: return FieldSpec(shape: .list, header: header)
            }
        case "o", "e", "n", "^": return .opaque(.list)
        default: return .opaque()
        }
    }

    /// `%t` and `%{…}t`: the whole time in brackets, a number since the epoch, or strftime pieces.
    static func time(_ argument: String?, name: String, into builder: inout TemplateBuilder) throws(FormatError) {
        var format = argument ?? ""
        for prefix in ["begin:", "end:"] where format.hasPrefix(prefix) { format.removeFirst(prefix.count) }
        switch format {
        case "":
            builder.literal([UInt8(ascii: "[")])
            builder.field(FieldSpec(shape: .localTime, role: .time, rank: 0), name: name)
            builder.literal([UInt8(ascii: "]")])
        case "sec": builder.field(FieldSpec(shape: .epoch(.wholeSeconds), role: .time, rank: 1), name: name)
        case "msec": builder.field(FieldSpec(shape: .epoch(.milliseconds), role: .time, rank: 1), name: name)
        case "usec": builder.field(FieldSpec(shape: .epoch(.microseconds), role: .time, rank: 1), name: name)
        case "msec_frac", "usec_frac": builder.field(.opaque(), name: name)
        default: try Strftime.compile(format, name: name, into: &builder)
        }
    }
}

// MARK: - strftime

enum Strftime {
    /// Adds the pieces of a strftime pattern to `builder`: whole forms it recognises as one
    /// field (`%d/%b/%Y:%H:%M:%S %z`, ISO 8601), otherwise each conversion as a piece.
    static func compile(_ format: String, name: String, into builder: inout TemplateBuilder) throws(FormatError) {
        let expanded = expand(format)
        if expanded == "%d/%b/%Y:%H:%M:%S %z" {
            builder.field(FieldSpec(shape: .localTime, role: .time, rank: 0), name: name)
            return
        }
        if ["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%dT%H:%M:%S %z"].contains(expanded) {
            builder.field(FieldSpec(shape: .isoTime, role: .time, rank: 1), name: name)
            return
        }
        let bytes = Array(expanded.utf8)
        var i = 0
        while i < bytes.count {
            guard bytes[i] == UInt8(ascii: "%"), i + 1 < bytes.count else {
                builder.literal([bytes[i]])
                i += 1
                continue
            }
            var conversion = bytes[i + 1]
            i += 2
            // GNU flags and E/O modifiers (`%-d`, `%Ey`) change nothing logsurge reads here.
            while [UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "0"), UInt8(ascii: "E"), UInt8(ascii: "O")].contains(conversion),
                i < bytes.count
            {
                conversion = bytes[i]
                i += 1
            }
            let piece: TimePiece?
            switch Character(UnicodeScalar(conversion)) {
            case "Y": piece = .year
            case "y": piece = .shortYear
            case "m": piece = .month
            case "b", "h": piece = .monthName
            case "B": piece = .fullMonthName
            case "d": piece = .day
            case "e": piece = .spacedDay
            case "H": piece = .hour
            case "I": piece = .twelveHour
            case "M": piece = .minute
            case "S": piece = .second
            case "p": piece = .meridiem
            case "a", "A": piece = .dayName
            case "z": piece = .zone
            case "Z": piece = .zoneName
            case "s": piece = .epochSeconds
            case "j": piece = .dayOfYear
            case "%":
                builder.literal([UInt8(ascii: "%")])
                continue
            case "n", "t":
                builder.literal([conversion == UInt8(ascii: "n") ? 0x0A : 0x09])
                continue
            default:
                throw FormatError(
                    "\(name): logsurge cannot read the strftime conversion %\(Character(UnicodeScalar(conversion))) of a time")
            }
            builder.field(FieldSpec(shape: .timePiece(piece!), role: .time), name: name)
        }
    }

    /// The pattern with its shorthand conversions written out (`%T` is `%H:%M:%S`).
    static func expand(_ format: String) -> String {
        var result = format
        for (short, long) in [("%T", "%H:%M:%S"), ("%D", "%m/%d/%y"), ("%F", "%Y-%m-%d"), ("%R", "%H:%M"), ("%r", "%I:%M:%S %p")] {
            result = result.replacing(short, with: long)
        }
        return result
    }
}

// MARK: - Small helpers

@inline(__always)
func isLetter(_ byte: UInt8) -> Bool { (byte | 0x20) &- 0x61 < 26 }

@inline(__always)
func isDigit(_ byte: UInt8) -> Bool { byte &- 0x30 < 10 }

extension StringProtocol {
    /// The text without leading and trailing white space.
    package var trimmingSpaces: String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
