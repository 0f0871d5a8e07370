/// The fields logsurge reads from JSON lines: which keys play which role.
///
/// Keys are compared normalised (ASCII letters in lower case, `-` as `_`), so `X-Forwarded-For`,
/// `x_forwarded_for` and `X_FORWARDED_FOR` are one key; except the request's own header names
/// in a header object (Caddy's `request.headers`), compared in any case but dash for dash. A key may lead into a nested object
/// (Caddy's `request.remote_ip`, ECS's `http.response.status_code`). Of several keys that can
/// play one role, the best-ranked present in a line wins; a key given twice in one line counts
/// its last value.
public struct JSONFields: Sendable, Hashable {
    /// For the report: `json`, `caddy`, or the nginx template it came from.
    public let name: String
    /// Wanted keys as paths of normalised names, with their role and rank (lower wins).
    var keys: [Key]
    /// Header names are keys of this object (Caddy's `request.headers`); nil when headers are
    /// top-level keys (`http_x_forwarded_for`).
    var headerObject: [String]?
    /// With `--real-ip`, the key that holds the connecting address instead of the client
    /// (Caddy's `client_ip` is its own resolution; `remote_ip` is the peer).
    var connectingKey: [String]?

    struct Key: Sendable, Hashable {
        var path: [String]
        var role: FieldRole
        var rank: Int
        /// For a time as a number: its unit.
        var unit: EpochUnit = .automatic
        /// The last name is a request header as the request spelt it: `-` and `_` differ
        /// (a visitor's `X_Forwarded_For` is not the proxy's `X-Forwarded-For`).
        var dashExact = false
    }

    /// Generic JSON access logs: the key names of nginx JSON templates, Traefik, ECS and log shippers.
    public static let generic: JSONFields = {
        var keys: [Key] = []
        func add(_ role: FieldRole, _ names: [String], unit: EpochUnit = .automatic) {
            for (rank, name) in names.enumerated() {
                keys.append(Key(path: name.split(separator: ".").map { normalize(String($0)) }, role: role, rank: rank, unit: unit))
                // ECS names are also written flattened: `"http.response.status_code": 200`.
                if name.contains(".") { keys.append(Key(path: [normalize(name)], role: role, rank: rank, unit: unit)) }
            }
        }
        add(
            .time,
            ["time_iso8601", "time_local", "@timestamp", "timestamp", "time", "msec", "ts", "date", "datetime", "StartUTC", "start_time"])
        add(
            .client,
            [
                "remote_addr", "client_ip", "clientip", "remote_ip", "remote", "client", "ip", "ClientHost", "c_ip", "client.ip",
                "source.ip", "client.address", "source.address",
            ])
        add(
            .status,
            [
                "status", "status_code", "statuscode", "response_status", "response_code", "code", "DownstreamStatus", "sc_status",
                "http.response.status_code", "response.status",
            ])
        add(
            .size,
            [
                "body_bytes_sent", "bytes_sent", "size", "bytes", "response_size", "body_size", "DownstreamContentSize", "sc_bytes",
                "http.response.body.bytes", "response.size",
            ])
        add(.host, ["host", "http_host", "server_name", "vhost", "RequestHost", "url.domain"])
        add(.request, ["request"])
        add(.path, ["request_uri", "uri", "path", "url", "RequestPath", "url.path", "url.original"])
        return JSONFields(name: "json", keys: keys)
    }()

    /// Caddy's JSON access log (`log { format json }`): `ts`, `status`, `size`, and the request
    /// under `request` (`client_ip`, Caddy's own answer with trusted proxies, else `remote_ip`;
    /// `host`, `uri`, and the request headers as arrays under `headers`).
    public static let caddy = JSONFields(
        name: "caddy",
        keys: [
            // Seconds by default; `time_format unix_milli_float` and the like by size.
            Key(path: ["ts"], role: .time, rank: 0),
            Key(path: ["status"], role: .status, rank: 0),
            Key(path: ["size"], role: .size, rank: 0),
            Key(path: ["request", "client_ip"], role: .client, rank: 0),
            Key(path: ["request", "remote_ip"], role: .client, rank: 1),
            // Caddy 2.4 and before: the peer as `ip:port`.
            Key(path: ["request", "remote_addr"], role: .client, rank: 2),
            Key(path: ["request", "host"], role: .host, rank: 0),
            Key(path: ["request", "uri"], role: .path, rank: 0),
        ],
        headerObject: ["request", "headers"], connectingKey: ["request", "remote_ip"])

    init(name: String, keys: [Key], headerObject: [String]? = nil, connectingKey: [String]? = nil) {
        self.name = name
        self.keys = keys
        self.headerObject = headerObject
        self.connectingKey = connectingKey
    }

    /// ASCII letters in lower case, `-` as `_`.
    static func normalize(_ name: String) -> String {
        String(
            decoding: name.utf8.map { byte in
                byte == UInt8(ascii: "-") ? UInt8(ascii: "_") : (byte &- 0x41 < 26 ? byte | 0x20 : byte)
            }, as: UTF8.self)
    }

    /// The fields with `--json-field ROLE=KEY` choices put first: that key plays that role.
    public func choosing(_ choices: [(role: String, key: String)]) throws(FormatError) -> JSONFields {
        var chosen = self
        for (roleName, key) in choices {
            guard let role = Self.choosableRoles[roleName] else {
                throw FormatError(
                    "--json-field: unknown role '\(roleName)': use \(Self.choosableRoles.keys.sorted().joined(separator: ", "))")
            }
            guard !key.isEmpty else { throw FormatError("--json-field \(roleName)= names no key") }
            chosen.keys.removeAll { $0.role == role }
            chosen.keys.append(Key(path: key.split(separator: ".").map { Self.normalize(String($0)) }, role: role, rank: 0))
            if key.contains(".") { chosen.keys.append(Key(path: [Self.normalize(key)], role: role, rank: 0)) }
        }
        return chosen
    }

    /// The roles `--json-field` can set, by name.
    public static var roleNames: [String] { choosableRoles.keys.sorted() }

    static let choosableRoles: [String: FieldRole] = [
        "time": .time, "client": .client, "status": .status, "size": .size, "host": .host,
        "request": .request, "path": .path,
    ]

    /// The fields with the `--real-ip` and `--country-from` headers added as keys.
    func binding(_ headers: HeaderRoles) -> JSONFields {
        var bound = self
        bound.keys.removeAll { $0.role == .forwarded || $0.role == .country }
        for (header, role) in [(headers.forwarded, FieldRole.forwarded), (headers.country, .country)] {
            guard let header else { continue }
            if let object = headerObject {
                bound.keys.append(Key(path: object + [header.dashed], role: role, rank: 0, dashExact: true))
            } else if !keys.contains(where: { $0.path == [header.normalized] || $0.path == ["http_" + header.normalized] }) {
                bound.keys.append(Key(path: ["http_" + header.normalized], role: role, rank: 0))
                bound.keys.append(Key(path: [header.normalized], role: role, rank: 1))
                // Traefik: `request_X-Forwarded-For`.
                bound.keys.append(Key(path: ["request_" + header.normalized], role: role, rank: 2))
            } else {
                for index in bound.keys.indices
                where bound.keys[index].path == [header.normalized] || bound.keys[index].path == ["http_" + header.normalized] {
                    bound.keys[index].role = role
                }
            }
        }
        // The connecting address, not the server's own resolution, starts the walk of the chain.
        if headers.forwarded != nil, let connectingKey {
            for index in bound.keys.indices where bound.keys[index].role == .client {
                bound.keys[index].rank = bound.keys[index].path == connectingKey ? 0 : 1
            }
        }
        return bound
    }

    /// The name of fields read from an nginx JSON template.
    static let templateName = "nginx escape=json template"

    /// The fields of an nginx `escape=json` template that is a JSON object: each key whose
    /// value is exactly one variable plays that variable's role.
    static func fromTemplate(_ text: String, source: String, clientHeaders: Set<String>) throws(FormatError) -> JSONFields {
        var keys: [Key] = []
        var path: [String] = []
        var bytes = Array(text.utf8)[...]
        func skipSpaces() {
            while let first = bytes.first, first == 0x20 || first == 0x09 || first == 0x0A || first == 0x0D { bytes.removeFirst() }
        }
        func string() throws(FormatError) -> String {
            guard bytes.first == UInt8(ascii: "\"") else {
                throw FormatError(
                    "the JSON template has a key or value that is not a string near '\(String(decoding: bytes.prefix(20), as: UTF8.self))'")
            }
            bytes.removeFirst()
            var out: [UInt8] = []
            while let byte = bytes.first, byte != UInt8(ascii: "\"") {
                if byte == UInt8(ascii: "\\"), bytes.count > 1 {
                    bytes.removeFirst()
                }
                out.append(bytes.removeFirst())
            }
            guard !bytes.isEmpty else { throw FormatError("the JSON template has an unclosed string") }
            bytes.removeFirst()
            return String(decoding: out, as: UTF8.self)
        }
        func value(key: String) throws(FormatError) {
            skipSpaces()
            if bytes.first == UInt8(ascii: "{") {
                path.append(normalize(key))
                try object()
                path.removeLast()
                return
            }
            let raw: String
            if bytes.first == UInt8(ascii: "\"") {
                raw = try string()
            } else {
                var out: [UInt8] = []
                while let byte = bytes.first, byte != UInt8(ascii: ","), byte != UInt8(ascii: "}") {
                    out.append(bytes.removeFirst())
                }
                raw = String(decoding: out, as: UTF8.self).trimmingSpaces
            }
            // Exactly one variable, nothing else: the key plays its role.
            guard raw.hasPrefix("$") else { return }
            var name = String(raw.dropFirst())
            if name.hasPrefix("{"), name.hasSuffix("}") { name = String(name.dropFirst().dropLast()) }
            guard !name.isEmpty, name.utf8.allSatisfy({ isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "_") }) else { return }
            let spec = NginxVariable.spec(name.lowercased())
            let keyPath = path + [normalize(key)]
            if spec.role != .opaque {
                let unit: EpochUnit = spec.shape == .epoch(.seconds) ? .seconds : .automatic
                keys.append(Key(path: keyPath, role: spec.role, rank: spec.rank, unit: unit))
            }
            if let header = spec.header { headerKeys.append(TemplateHeader(header: header, path: keyPath)) }
        }
        var headerKeys: [TemplateHeader] = []
        func object() throws(FormatError) {
            skipSpaces()
            guard bytes.first == UInt8(ascii: "{") else { throw FormatError("the JSON template is not an object") }
            bytes.removeFirst()
            skipSpaces()
            if bytes.first == UInt8(ascii: "}") {
                bytes.removeFirst()
                return
            }
            while true {
                skipSpaces()
                let key = try string()
                skipSpaces()
                guard bytes.first == UInt8(ascii: ":") else { throw FormatError("the JSON template lacks a ':' after \"\(key)\"") }
                bytes.removeFirst()
                try value(key: key)
                skipSpaces()
                guard let next = bytes.first else { throw FormatError("the JSON template is not closed") }
                bytes.removeFirst()
                if next == UInt8(ascii: "}") { return }
                guard next == UInt8(ascii: ",") else {
                    throw FormatError("the JSON template has '\(Character(UnicodeScalar(next)))' where ',' or '}' belongs")
                }
            }
        }
        try object()
        var fields = JSONFields(name: templateName, keys: keys)
        fields.templateHeaders = headerKeys
        // A time, a status and a client (or a header standing in for it) are needed.
        guard keys.contains(where: { $0.role == .time }) else {
            throw FormatError("the JSON template has no time ($time_local, $time_iso8601 or $msec)")
        }
        guard keys.contains(where: { $0.role == .status }) else { throw FormatError("the JSON template has no status ($status)") }
        guard keys.contains(where: { $0.role == .client }) || headerKeys.contains(where: { clientHeaders.contains($0.header) }) else {
            throw FormatError(
                "the JSON template has no client address ($remote_addr); a format whose only client is a forwarded header needs --real-ip naming it"
            )
        }
        return fields
    }

    /// For a template: the headers it logs, with the keys holding them.
    private var templateHeaders: [TemplateHeader] = []
    struct TemplateHeader: Sendable, Hashable {
        var header: String
        var path: [String]
    }

    /// The request headers these fields can read, normalised; nil when any may be present (a
    /// generic JSON log names its keys itself).
    public var loggedHeaders: [String]? {
        name == Self.templateName ? templateHeaders.map(\.header) : nil
    }

    /// For a template, binding a header means the key the template put it under.
    func bindingTemplate(_ headers: HeaderRoles) -> JSONFields {
        guard name == Self.templateName else { return binding(headers) }
        var bound = self
        bound.keys.removeAll { $0.role == .forwarded || $0.role == .country }
        for (header, role) in [(headers.forwarded, FieldRole.forwarded), (headers.country, .country)] {
            guard let header, let entry = templateHeaders.first(where: { $0.header == header.normalized }) else { continue }
            bound.keys.append(Key(path: entry.path, role: role, rank: 0))
        }
        return bound
    }
}

/// Reads the fields of JSON lines, one object a line, in one streaming pass over its bytes.
///
/// Not a JSON decoder: the object's keys are matched against the wanted ones (a hash of the
/// normalised key, then a byte compare), string values are delimited with the vector quote scan
/// and kept as ranges into the line, objects that hold no wanted key and arrays are skipped
/// with a counter of their depth; nothing is allocated. A line that is not an object, or whose
/// structure breaks, is `bad_format`; a missing or unreadable time `bad_timestamp`, status
/// `bad_status`, size `bad_size`; a missing client `bad_format` (a JSON line is never
/// `bad_client`). A line cut short after the needed keys counts, marked `truncated`.
///
/// Values: times as strings in any form `TimeText` reads, or numbers since the epoch (seconds,
/// or by size milliseconds, microseconds and nanoseconds); statuses as numbers or strings of
/// three digits; sizes as numbers, digit strings, `"-"` or `null` (0); a number's zero fraction
/// (`200.0`) is allowed.
public struct JSONLineParser: Sendable {
    public let fields: JSONFields
    private let table: JSONKeyTable
    /// The keys of the last line, by position in its object: lines of one log repeat them.
    private var predictions = KeyPredictions()
    private var times = TimeText()
    /// Whether `ParsedLine.path` is wanted. By default, true.
    public var wantsPath = true

    /// A number's integer digits when its fraction is zeros (`200.0`, which some log shippers
    /// write for every number); else the range as it is.
    @inline(__always)
    static func integral(_ b: UnsafeRawBufferPointer, _ range: Range<Int>) -> Range<Int> {
        var i = range.upperBound
        // In bounds: i - 1 >= range.lowerBound >= 0 is checked first.
        while i > range.lowerBound, b[i - 1] == ASCII.zero { i -= 1 }
        guard i > range.lowerBound + 1, i < range.upperBound, b[i - 1] == UInt8(ascii: ".") else { return range }
        return range.lowerBound..<(i - 1)
    }

    public init(fields: JSONFields) {
        self.fields = fields
        self.table = JSONKeyTable(fields)
    }

    /// The same parser without what it learnt from lines (its key predictions, its time caches).
    package func fresh() -> JSONLineParser {
        var copy = self
        copy.predictions = KeyPredictions()
        copy.times = TimeText()
        return copy
    }

    /// Objects nested deeper than this end the line as `bad_format`.
    static let maximumDepth = 64

    public mutating func parse(_ line: UnsafeRawBufferPointer) -> ParseResult {
        var count = line.count
        // In bounds: count - 1 is read only when count > 0.
        if count > 0, line[count - 1] == ASCII.carriageReturn { count -= 1 }
        guard count > 0, let base = line.baseAddress else { return .malformed(.empty) }
        guard count <= AccessLogParser.maxLineLength else { return .malformed(.tooLong) }
        let b = UnsafeRawBufferPointer(start: base, count: count)
        var i = b.skipJSONSpace(from: 0)
        guard i < count else { return .malformed(.empty) }
        // In bounds: i < count.
        guard b[i] == ASCII.openBrace else { return .malformed(.badFormat) }
        var found = JSONFound()
        i = scanObject(b, from: i, level: 0, found: &found, depth: 0)
        let truncated = i == JSONFound.cut
        if i < 0, !truncated { return .malformed(.badFormat) }
        return result(b, found, truncated: truncated)
    }

    /// Turns what was found into the line's fields.
    private mutating func result(_ b: UnsafeRawBufferPointer, _ found: JSONFound, truncated: Bool) -> ParseResult {
        let needClient = found.client.range == nil && found.forwarded.range == nil
        if truncated, found.time.range == nil || found.status.range == nil || needClient { return .malformed(.badFormat) }
        guard let time = found.time.range else { return .malformed(.badTimestamp) }
        let minute: Int32
        var zoneless = false
        if found.time.isString {
            guard let (value, hasZone) = times.minute(b, time) else { return .malformed(.badTimestamp) }
            minute = value
            zoneless = !hasZone
        } else {
            guard let (value, next) = table.timeUnit(Int(found.time.key)).minute(b, at: time.lowerBound, end: time.upperBound),
                next == time.upperBound
            else { return .malformed(.badTimestamp) }
            minute = value
        }
        guard let statusRange = found.status.range.map({ Self.integral(b, $0) }), statusRange.count == 3 else {
            return .malformed(.badStatus)
        }
        // In bounds: the range lies inside b and holds three bytes.
        let s0 = b[statusRange.lowerBound] &- ASCII.zero, s1 = b[statusRange.lowerBound + 1] &- ASCII.zero
        let s2 = b[statusRange.lowerBound + 2] &- ASCII.zero
        guard s0 <= 9, s1 <= 9, s2 <= 9 else { return .malformed(.badStatus) }
        var bytes: UInt64 = 0
        if let size = found.size.range {
            guard let value = TemplateParser.size(b, Self.integral(b, size)) else { return .malformed(.badSize) }
            bytes = value
        }
        if needClient { return .malformed(.badFormat) }
        var line = ParsedLine(
            minute: minute, status: UInt16(s0) * 100 + UInt16(s1) * 10 + UInt16(s2), bytes: bytes,
            client: found.client.range, truncated: truncated)
        line.timeWithoutZone = zoneless
        if let host = found.host.range, !TemplateParser.isDash(b, host) { line.host = AccessLogParser.hostRange(b, host) }
        if wantsPath {
            if let path = found.path.range, !TemplateParser.isDash(b, path) {
                line.path = path
            } else if let request = found.request.range {
                line.path = AccessLogParser.requestTarget(b, request)
            }
        }
        if let forwarded = found.forwarded.range, !TemplateParser.isDash(b, forwarded) { line.forwarded = forwarded }
        if let country = found.country.range, !TemplateParser.isDash(b, country) { line.countryHint = country }
        return .parsed(line)
    }

    /// Scans the object whose `{` is at `start`, recording wanted keys of `level`; returns the
    /// index after its `}`, `JSONFound.broken` for broken structure, `JSONFound.cut` when the
    /// line ends inside it.
    private func scanObject(_ b: UnsafeRawBufferPointer, from start: Int, level: Int, found: inout JSONFound, depth: Int) -> Int {
        let end = b.count
        var i = b.skipJSONSpace(from: start + 1)
        guard i < end else { return JSONFound.cut }
        // In bounds: i < end.
        if b[i] == ASCII.closeBrace { return i + 1 }
        var position = 0
        while true {
            // A key (after white space, which compact JSON has none of).
            // In bounds: i < end is checked before each read.
            if i < end, b[i] != ASCII.quote { i = b.skipJSONSpace(from: i) }
            guard i < end else { return JSONFound.cut }
            guard b[i] == ASCII.quote else { return JSONFound.broken }
            let keyEnd: Int
            let entry: JSONKeyTable.Entry?
            if level == 0, let predicted = predictions.match(b, keyStart: i + 1, position: position) {
                // The key the line before had here, byte for byte.
                keyEnd = i + 1 + Int(predicted.pointee.length)
                entry = predicted.pointee.wanted ? predicted.pointee.entry : nil
            } else {
                guard let found = b.jsonStringEnd(from: i + 1) else { return JSONFound.cut }
                keyEnd = found
                entry = table.lookup(b, (i + 1)..<keyEnd, level: level)?.pointee
                if level == 0 { predictions.remember(b, key: (i + 1)..<keyEnd, position: position, entry: entry) }
            }
            position += 1
            // In bounds: keyEnd + 1 < end is checked before reading it.
            if keyEnd + 1 < end, b[keyEnd + 1] == ASCII.colon {
                i = keyEnd + 2
            } else {
                i = b.skipJSONSpace(from: keyEnd + 1)
                guard i < end else { return JSONFound.cut }
                // In bounds: i < end.
                guard b[i] == ASCII.colon else { return JSONFound.broken }
                i += 1
            }
            // In bounds: i < end is checked before reading it.
            if i < end, b[i] == ASCII.space || b[i] == ASCII.tab { i = b.skipJSONSpace(from: i) }
            guard i < end else { return JSONFound.cut }
            // The value.
            // In bounds: i < end.
            let first = b[i]
            if first == ASCII.quote {
                guard let valueEnd = b.jsonStringEnd(from: i + 1) else { return JSONFound.cut }
                if let entry, let role = entry.role {
                    found.record(role, (i + 1)..<valueEnd, key: Int(entry.index), rank: Int(entry.rank), isString: true)
                }
                i = valueEnd + 1
            } else if first == ASCII.openBrace, let child = entry?.child, child >= 0, depth < Self.maximumDepth {
                i = scanObject(b, from: i, level: Int(child), found: &found, depth: depth + 1)
                if i < 0 { return i }
            } else if first == ASCII.openBrace || first == ASCII.openBracket {
                let close = b.skipJSONContainer(from: i, maximumDepth: Self.maximumDepth)
                if close < 0 { return close }
                if let entry, let role = entry.role, first == ASCII.openBracket {
                    // An array of strings (Caddy's header values): the one string's text, or the
                    // inside of the array for a chain given over several header lines.
                    let inside = b.skipJSONSpace(from: i + 1)..<(close - 1)
                    var value = inside
                    // In bounds: inside lies within b; its ends are read only when it is not empty.
                    if inside.count >= 2, b[inside.lowerBound] == ASCII.quote, let end = b.jsonStringEnd(from: inside.lowerBound + 1),
                        b.skipJSONSpace(from: end + 1) >= inside.upperBound
                    {
                        value = (inside.lowerBound + 1)..<end
                    }
                    found.record(role, value, key: Int(entry.index), rank: Int(entry.rank), isString: true)
                }
                i = close
            } else {
                // A number, true, false or null: up to the next delimiter.
                var j = i
                // In bounds: j < end is checked first.
                while j < end, b[j] != 0x2C, b[j] != ASCII.closeBrace, b[j] != ASCII.closeBracket, b[j] > ASCII.space { j += 1 }
                guard j > i else { return JSONFound.broken }
                if let entry, let role = entry.role {
                    let isNull = j - i == 4 && b[i] == 0x6E  // "null"
                    found.record(role, i..<j, key: Int(entry.index), rank: Int(entry.rank), isString: false, isNull: isNull)
                }
                i = j
            }
            // In bounds: i < end is checked before reading it.
            if i < end, b[i] != 0x2C, b[i] != ASCII.closeBrace { i = b.skipJSONSpace(from: i) }
            guard i < end else { return JSONFound.cut }
            // In bounds: i < end.
            if b[i] == ASCII.closeBrace { return i + 1 }
            guard b[i] == 0x2C else { return JSONFound.broken }
            i += 1
        }
    }
}

/// The best value found for each role while scanning a line.
struct JSONFound {
    static let broken = -1
    static let cut = -2

    /// A value found for a role: its range in 32-bit offsets, the rank and index of its key.
    struct Value {
        var lower: Int32 = -1
        var upper: Int32 = -1
        var rank: Int32 = .max
        var key: Int16 = 0
        var isString = false

        @inline(__always)
        var range: Range<Int>? { lower < 0 ? nil : Int(lower)..<Int(upper) }
    }
    var time = Value(), client = Value(), status = Value(), size = Value(), host = Value()
    var request = Value(), path = Value(), forwarded = Value(), country = Value()

    @inline(__always)
    mutating func record(_ role: FieldRole, _ range: Range<Int>, key: Int, rank: Int, isString: Bool, isNull: Bool = false) {
        @inline(__always)
        func keep(_ value: inout Value) {
            // The better-ranked key wins; the same key given again counts its last value.
            guard Int32(truncatingIfNeeded: rank) <= value.rank else { return }
            value = Value(
                lower: isNull ? -1 : Int32(truncatingIfNeeded: range.lowerBound), upper: Int32(truncatingIfNeeded: range.upperBound),
                rank: Int32(truncatingIfNeeded: rank), key: Int16(truncatingIfNeeded: key), isString: isString)
        }
        switch role {
        case .time: keep(&time)
        case .client: keep(&client)
        case .status: keep(&status)
        case .size: keep(&size)
        case .host: keep(&host)
        case .request: keep(&request)
        case .path: keep(&path)
        case .forwarded: keep(&forwarded)
        case .country: keep(&country)
        case .opaque: break
        }
    }
}

/// The wanted keys of a `JSONFields`, by level (0 is the line's object), for lookup by hash.
///
/// A line's key is folded (ASCII letters to lower case, `-` to `_`) and hashed eight bytes at
/// a time: its first and last words and its length, not a multiply per byte; a wanted key is
/// then confirmed word by word. Entries, names and slots are plain values in storage of their
/// own, so a lookup retains nothing.
final class JSONKeyTable: @unchecked Sendable {
    struct Entry {
        var level: Int32
        /// Nil: no role (a key that only leads into an object).
        var role: FieldRole?
        var unit: EpochUnit
        var rank: Int32
        /// -1: none.
        var child: Int32
        var index: Int32
        var length: Int32
        /// The name's folded words in `words`, the last zero-padded.
        var wordsStart: Int32
        /// Compared with letters folded but `-` and `_` as they are.
        var dashExact = false
    }

    private let entries: UnsafeMutablePointer<Entry>
    private let entryCount: Int
    private let words: UnsafeMutablePointer<UInt64>
    private let slots: UnsafeMutablePointer<Int32>
    private let mask: Int

    init(_ fields: JSONFields) {
        var levels: [[String]: Int] = [[]: 0]
        var built: [(entry: Entry, name: [UInt8])] = []
        func entry(level: Int, name: String, dashExact: Bool) -> Int {
            let bytes = Array(name.utf8)
            if let index = built.firstIndex(where: { $0.entry.level == level && $0.name == bytes && $0.entry.dashExact == dashExact }) {
                return index
            }
            built.append(
                (
                    Entry(
                        level: Int32(level), role: nil, unit: .automatic, rank: .max, child: -1, index: Int32(built.count),
                        length: Int32(bytes.count), wordsStart: 0, dashExact: dashExact), bytes
                ))
            return built.count - 1
        }
        for key in fields.keys where !key.path.isEmpty {
            var level = 0
            for (depth, component) in key.path.enumerated() {
                let index = entry(level: level, name: component, dashExact: key.dashExact && depth == key.path.count - 1)
                if depth == key.path.count - 1 {
                    // Of two keys with one name, the better rank decides the role.
                    if built[index].entry.role == nil || Int32(key.rank) < built[index].entry.rank {
                        built[index].entry.role = key.role
                        built[index].entry.rank = Int32(key.rank)
                        built[index].entry.unit = key.unit
                    }
                } else {
                    let prefix = Array(key.path[...depth])
                    let child =
                        levels[prefix]
                        ?? {
                            let next = levels.count
                            levels[prefix] = next
                            return next
                        }()
                    built[index].entry.child = Int32(child)
                    level = child
                }
            }
        }
        var wordList: [UInt64] = []
        for index in built.indices {
            built[index].entry.wordsStart = Int32(wordList.count)
            wordList += Self.words(Self.folded(built[index].name, dashes: !built[index].entry.dashExact))
        }
        entryCount = built.count
        entries = .allocate(capacity: max(1, built.count))
        entries.initialize(from: built.map(\.entry), count: built.count)
        words = .allocate(capacity: max(1, wordList.count))
        words.initialize(from: wordList, count: wordList.count)
        var size = 16
        while size < built.count * 4 { size *= 2 }
        mask = size - 1
        slots = .allocate(capacity: size)
        slots.initialize(repeating: -1, count: size)
        for (entry, name) in built {
            let folded = Self.words(Self.folded(name, dashes: !entry.dashExact))
            var slot =
                Self.hash(
                    first: folded.first ?? 0, last: folded.count > 1 ? Self.lastWord(Self.folded(name, dashes: !entry.dashExact)) : 0,
                    length: name.count, level: Int(entry.level)) & mask
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            slots[slot] = entry.index
        }
    }

    deinit {
        entries.deallocate()
        words.deallocate()
        slots.deallocate()
    }

    /// The entry for the key `b[key]` at `level`, if wanted.
    @inline(__always)
    func lookup(_ b: UnsafeRawBufferPointer, _ key: Range<Int>, level: Int) -> UnsafePointer<Entry>? {
        let length = key.count
        guard length > 0, length <= 64, let base = b.baseAddress else { return nil }
        let first = Self.word(base, key.lowerBound, count: min(8, length), limit: b.count)
        let last = length > 8 ? Self.word(base, key.upperBound - 8, count: 8, limit: b.count) : 0
        var slot = Self.hash(first: first, last: last, length: length, level: level) & mask
        while true {
            let found = Int(slots[slot])
            if found < 0 { return nil }
            let entry = UnsafePointer(entries + found)
            if entry.pointee.level == level, Int(entry.pointee.length) == length,
                matches(entry.pointee, base, key, first: first, limit: b.count)
            {
                return entry
            }
            slot = (slot + 1) & mask
        }
    }

    /// Whether the key at `key` (whose first word is `first`) is the entry's name, folded.
    @inline(__always)
    private func matches(_ entry: Entry, _ base: UnsafeRawPointer, _ key: Range<Int>, first: UInt64, limit: Int) -> Bool {
        var offset = 0, wordIndex = Int(entry.wordsStart)
        let length = key.count
        while offset < length {
            let count = min(8, length - offset)
            let word = offset == 0 ? first : Self.word(base, key.lowerBound + offset, count: count, limit: limit)
            // Most keys are written as the names are kept (lower case, `_`): no folding then.
            let wanted = words[wordIndex]
            guard word == wanted || (entry.dashExact ? Self.foldCase(word) : Self.fold(word)) == wanted else { return false }
            offset += 8
            wordIndex += 1
        }
        return true
    }

    /// The unit of a number under the key `index`.
    func timeUnit(_ index: Int) -> EpochUnit { index < entryCount ? entries[index].unit : .automatic }

    /// `count` (1...8) bytes at `offset` as a little-endian word (the rest zero); read as one
    /// load when 8 bytes are readable there.
    @inline(__always)
    private static func word(_ base: UnsafeRawPointer, _ offset: Int, count: Int, limit: Int) -> UInt64 {
        if offset + 8 <= limit {
            // In bounds: offset + 8 <= limit, the buffer's size.
            return UInt64(littleEndian: (base + offset).loadUnaligned(as: UInt64.self)) & laneMask(count)
        }
        var raw: UInt64 = 0
        // In bounds: count bytes from offset lie inside the key, inside the buffer.
        for index in 0..<count { raw |= UInt64(base.load(fromByteOffset: offset + index, as: UInt8.self)) << (8 * UInt64(index)) }
        return raw
    }

    @inline(__always)
    private static func laneMask(_ count: Int) -> UInt64 { count >= 8 ? .max : (1 << (8 * UInt64(count))) - 1 }

    /// Eight key bytes at once, `A`–`Z` to `a`–`z`.
    @inline(__always)
    static func foldCase(_ word: UInt64) -> UInt64 {
        let low7 = 0x7F7F_7F7F_7F7F_7F7F as UInt64
        // A lane's high bit set where the byte is in "A"..."Z" (exact, no carries across lanes).
        let aboveA = (word & low7) &+ (0x80 - 0x41) &* 0x0101_0101_0101_0101
        let aboveZ = (word & low7) &+ (0x80 - 0x5B) &* 0x0101_0101_0101_0101
        let upper = aboveA & ~aboveZ & ~word & 0x8080_8080_8080_8080
        return word | (upper >> 2)  // 0x80 >> 2 == 0x20
    }

    /// Eight key bytes at once as keys are compared: `A`–`Z` to `a`–`z`, `-` to `_`.
    @inline(__always)
    static func fold(_ word: UInt64) -> UInt64 {
        let low7 = 0x7F7F_7F7F_7F7F_7F7F as UInt64
        var folded = foldCase(word)
        // Lanes equal to "-" become "_".
        let x = folded ^ 0x2D2D_2D2D_2D2D_2D2D
        let dash = ~(((x & low7) &+ low7) | x | low7)
        folded ^= (dash >> 7) &* (0x2D ^ 0x5F)
        return folded
    }

    /// A folded name as little-endian words, the last zero-padded.
    private static func words(_ name: [UInt8]) -> [UInt64] {
        stride(from: 0, to: name.count, by: 8).map { start in
            name[start..<min(start + 8, name.count)].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        }
    }

    /// The name's last 8 bytes as a word (names longer than 8).
    private static func lastWord(_ name: [UInt8]) -> UInt64 {
        name.suffix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    }

    private static func folded(_ name: [UInt8], dashes: Bool = true) -> [UInt8] {
        name.map { dashes && $0 == ASCII.dash ? 0x5F : ($0 &- 0x41 < 26 ? $0 | 0x20 : $0) }
    }

    /// A hash of a key's words that folding does not change: bit 0x20 set (letters' case),
    /// bits 0x52 cleared (`-` and `_` alike once 0x20 is set). Keys that only collide here are
    /// told apart by `matches`.
    @inline(__always)
    private static func hash(first: UInt64, last: UInt64, length: Int, level: Int) -> Int {
        let same: UInt64 = 0x2020_2020_2020_2020, differ: UInt64 = 0x5252_5252_5252_5252
        let first = (first | same) & ~differ, last = (last | same) & ~differ
        var h = first &* 0x9E37_79B9_7F4A_7C15
        h ^= (last &+ UInt64(length) << 56 &+ UInt64(level) << 48) &* 0xC2B2_AE3D_27D4_EB4F
        return Int(truncatingIfNeeded: h ^ (h >> 29))
    }
}

/// The keys a parser saw in the line before, by position in the line's object, up to 24 bytes
/// long: a key that is the same bytes at the same position needs no scan for its end and no
/// hash lookup. One per parser (a worker's), used by one thread.
final class KeyPredictions: @unchecked Sendable {
    struct Prediction {
        var length: Int32 = 0
        /// Whether the key is wanted, and its entry then.
        var wanted = false
        var entry = JSONKeyTable.Entry(level: 0, role: nil, unit: .automatic, rank: 0, child: -1, index: 0, length: 0, wordsStart: 0)
        /// The key's bytes: up to 24, as three little-endian words, zero-padded; and the masks
        /// that keep the key's bytes of three words read from a line.
        var words: (UInt64, UInt64, UInt64) = (0, 0, 0)
        var masks: (UInt64, UInt64, UInt64) = (0, 0, 0)
    }
    static let positions = 32
    static let longestKey = 24
    private let slots = UnsafeMutablePointer<Prediction>.allocate(capacity: positions)

    init() { slots.initialize(repeating: Prediction(), count: Self.positions) }
    deinit { slots.deallocate() }

    /// The prediction at `position` when the key at `keyStart` is the one it remembers.
    @inline(__always)
    func match(_ b: UnsafeRawBufferPointer, keyStart: Int, position: Int) -> UnsafePointer<Prediction>? {
        guard position < Self.positions, let base = b.baseAddress else { return nil }
        let prediction = UnsafePointer(slots + position)
        let length = Int(prediction.pointee.length)
        // A key is followed by its quote, so 24 bytes from the start are readable when 25 are in the line.
        guard length > 0, keyStart + Self.longestKey < b.count, b[keyStart + length] == ASCII.quote else { return nil }
        let mask = prediction.pointee.masks
        // In bounds: keyStart + 24 < b.count.
        let w0 = UInt64(littleEndian: (base + keyStart).loadUnaligned(as: UInt64.self)) & mask.0
        let w1 = UInt64(littleEndian: (base + keyStart + 8).loadUnaligned(as: UInt64.self)) & mask.1
        let w2 = UInt64(littleEndian: (base + keyStart + 16).loadUnaligned(as: UInt64.self)) & mask.2
        let words = prediction.pointee.words
        guard w0 == words.0, w1 == words.1, w2 == words.2 else { return nil }
        return prediction
    }

    /// Remembers the key `b[key]` (its end found by a scan, so it holds no escaped quote) at `position`.
    func remember(_ b: UnsafeRawBufferPointer, key: Range<Int>, position: Int, entry: JSONKeyTable.Entry?) {
        guard position < Self.positions else { return }
        guard key.count > 0, key.count <= Self.longestKey, !b[key].contains(ASCII.backslash) else {
            slots[position] = Prediction()
            return
        }
        var words: [UInt64] = [0, 0, 0]
        for (offset, byte) in b[key].enumerated() { words[offset / 8] |= UInt64(byte) << (8 * UInt64(offset % 8)) }
        var prediction = Prediction(
            length: Int32(key.count), wanted: entry != nil, words: (words[0], words[1], words[2]),
            masks: Self.masks(key.count))
        if let entry { prediction.entry = entry }
        slots[position] = prediction
    }

    /// Masks keeping the first `length` bytes of three consecutive words.
    @inline(__always)
    private static func masks(_ length: Int) -> (UInt64, UInt64, UInt64) {
        func mask(_ bytes: Int) -> UInt64 { bytes <= 0 ? 0 : bytes >= 8 ? .max : (1 << (8 * UInt64(bytes))) - 1 }
        return (mask(length), mask(length - 8), mask(length - 16))
    }
}

/// Reads a time written as text in any of the forms servers use: ISO 8601, `dd/Mon/yyyy:HH:MM:SS
/// ±hhmm` (with or without brackets), or a number since the epoch (seconds, or by size
/// milliseconds and microseconds). The whole text must be the time.
struct TimeText: Sendable {
    private var local = TimestampCache()
    private var iso = ISOTimeCache()

    /// The minute of a time string, and whether it said its offset from UTC (an ISO 8601 time
    /// without one is read as UTC).
    mutating func minute(_ b: UnsafeRawBufferPointer, _ text: Range<Int>) -> (minute: Int32, hasZone: Bool)? {
        var start = text.lowerBound, end = text.upperBound
        // In bounds: start < end before each read.
        if end - start >= 2, b[start] == ASCII.openBracket, b[end - 1] == ASCII.closeBracket {
            start += 1
            end -= 1
        }
        guard end - start >= 1 else { return nil }
        if end - start == TimestampCache.length, b[start + 2] == ASCII.slash {
            return local.minute(b, at: start).map { ($0, true) }
        }
        if end - start >= 16, b[start + 4] == ASCII.dash || b[start + 4] == ASCII.slash {
            guard let (minute, next, hasZone) = iso.minute(b, at: start, end: end), next == end else { return nil }
            return (minute, hasZone)
        }
        guard let (minute, next) = EpochUnit.automatic.minute(b, at: start, end: end), next == end else { return nil }
        return (minute, true)
    }
}

extension UnsafeRawBufferPointer {
    /// The index of the first byte at or after `from` that is not JSON white space.
    @inline(__always)
    func skipJSONSpace(from: Int) -> Int {
        var i = from
        // In bounds: i < count is checked first.
        while i < count, self[i] == ASCII.space || self[i] == ASCII.tab || self[i] == ASCII.carriageReturn { i += 1 }
        return i
    }

    /// The index of the `"` that ends a JSON string whose text starts at `from`, or nil when the line ends first.
    @inline(__always)
    func jsonStringEnd(from: Int) -> Int? {
        unescapedQuote(from: from) { _ in true }
    }

    /// The index after the object or array that opens at `from`, `JSONFound.cut` when the line
    /// ends first, `JSONFound.broken` when it nests deeper than `maximumDepth` or its brackets do not match.
    func skipJSONContainer(from: Int, maximumDepth: Int) -> Int {
        var depth = 0
        var i = from
        // In bounds: i < count is checked first in the loop.
        while i < count {
            let byte = self[i]
            switch byte {
            case ASCII.quote:
                guard let close = jsonStringEnd(from: i + 1) else { return JSONFound.cut }
                i = close
            case ASCII.openBrace, ASCII.openBracket:
                depth += 1
                if depth > maximumDepth { return JSONFound.broken }
            case ASCII.closeBrace, ASCII.closeBracket:
                depth -= 1
                if depth == 0 { return i + 1 }
            default:
                break
            }
            i += 1
        }
        return JSONFound.cut
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
