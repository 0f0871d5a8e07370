/// A line layout compiled from a server's own format string: literal text and fields in order.
///
/// Made once, from an nginx `log_format` body or an Apache `LogFormat` string (`FormatString`),
/// from a W3C `#Fields:` line, or for the named formats that are format strings underneath
/// (`main`, `xff_combined`, `alb`). `TemplateParser` reads lines with it.
///
/// Each field knows how its end is found (its `FieldShape`) and what logsurge does with it (its
/// `FieldRole`); a field logsurge does not use is opaque: delimited and skipped. Of several
/// fields that could play one role (`$host` and `$http_host`), the best is given the role when
/// the template is made and the others are opaque.
public struct LogTemplate: Sendable, Hashable {
    /// Where the template came from.
    public enum Dialect: String, Sendable {
        case nginx
        case apache
        case w3c
    }

    public let dialect: Dialect
    /// The format string as given (for messages and the report).
    public let source: String
    /// Literal text before the first field.
    var leading: [UInt8]
    var fields: [TemplateField]
    /// The site comes from the host of an absolute request target (`GET https://host:443/ …`)
    /// when no field names it: AWS load balancers log requests that way.
    var hostFromRequestURL = false

    init(dialect: Dialect, source: String, leading: [UInt8], fields: [TemplateField]) {
        self.dialect = dialect
        self.source = source
        self.leading = leading
        self.fields = fields
    }

    /// The request headers the format logs, by normalised name (lower case, `-` as `_`):
    /// the candidates for `--real-ip` and `--country-from`.
    public var loggedHeaders: [String] {
        fields.compactMap(\.header)
    }

    /// Whether the format logs the connecting client's address.
    public var hasClient: Bool { fields.contains { $0.role == .client } }

    /// Whether the format logs a virtual host.
    public var hasHost: Bool { hostFromRequestURL || fields.contains { $0.role == .host } }

    /// Whether a field plays `role`.
    func has(_ role: FieldRole) -> Bool { fields.contains { $0.role == role } }

    /// Whether the time is read from pieces without a zone: read as UTC.
    public var timeWithoutZone: Bool {
        let pieces = fields.compactMap { field -> TimePiece? in
            if case .timePiece(let piece) = field.shape, field.role == .time { return piece }
            return nil
        }
        return dialect != .w3c && !pieces.isEmpty && !pieces.contains { $0 == .zone || $0 == .zoneName || $0 == .epochSeconds }
    }

    /// The template with the `forwarded` and `country` roles given to the header fields that
    /// `headers` names (the first such field each), and taken from any others.
    func binding(_ headers: HeaderRoles) -> LogTemplate {
        var bound = self
        var forwardedTaken = false, countryTaken = false
        for index in bound.fields.indices {
            guard let header = bound.fields[index].header else { continue }
            if bound.fields[index].role == .forwarded || bound.fields[index].role == .country {
                bound.fields[index].role = .opaque
            }
            if !forwardedTaken, header == headers.forwarded?.normalized {
                bound.fields[index].role = .forwarded
                forwardedTaken = true
            } else if !countryTaken, header == headers.country?.normalized {
                bound.fields[index].role = .country
                countryTaken = true
            }
        }
        return bound
    }
}

/// What logsurge does with a field's text.
enum FieldRole: UInt8, Sendable, Hashable {
    /// Delimited and skipped.
    case opaque
    /// The connecting client's address (`$remote_addr`, `%h`, `%a`).
    case client
    /// The virtual host (`$host`, `%v`, `%{Host}i`); a `:port` suffix is dropped.
    case host
    /// The request's time: a field of one of the time shapes, or one piece of it.
    case time
    /// The three-digit status (`$status`, `%>s`).
    case status
    /// The response size: digits, or `-` for 0 (`$body_bytes_sent`, `%b`, `%O`).
    case size
    /// The request line `METHOD TARGET PROTOCOL` (`$request`, `%r`): its target is the path.
    case request
    /// The request target alone (`$request_uri`, `%U`).
    case path
    /// The address chain of the `--real-ip` header.
    case forwarded
    /// The country code of the `--country-from` header.
    case country

    /// The reason a line is malformed when this field is missing or wrong.
    var reason: MalformedReason {
        switch self {
        case .client: .badClient
        case .time: .badTimestamp
        case .request: .badRequest
        case .status: .badStatus
        case .size: .badSize
        case .opaque, .host, .path, .forwarded, .country: .badFormat
        }
    }
}

/// How a field's end is found.
enum FieldShape: Sendable, Hashable {
    /// Bare text up to the literal that follows it; the last field runs to the end of the line.
    case token
    /// Bare text that may hold a `, `-separated list (a forwarded chain, nginx's
    /// `$upstream_response_time` with `0.010, 0.002 : 0.001`): a space after a comma or around
    /// a colon does not end it.
    case list
    /// Text between the `"` that ends the literal before it and the `"` that starts the one
    /// after: it ends at the first unescaped `"` followed by the rest of that literal.
    case quoted
    /// A host or address followed by `:port` (`%v:%p`, an ALB `client:port`): up to the last
    /// `:` of the printable text.
    case beforeLastColon
    /// `dd/Mon/yyyy:HH:MM:SS ±hhmm` (nginx `$time_local`; Apache `%t` without its brackets).
    case localTime
    /// ISO 8601 (`$time_iso8601`, `%{%Y-%m-%dT%H:%M:%S%z}t`).
    case isoTime
    /// A number since the epoch (`$msec`, `%{sec}t`, `%{msec}t`, `%{usec}t`).
    case epoch(EpochUnit)
    /// One piece of a strftime pattern (`%{%d/%m/%Y %H:%M}t`) or of a W3C date and time.
    case timePiece(TimePiece)

    /// Whether the field's end is found by what follows it (so it needs a literal after it,
    /// unless it is the last field).
    var endsAtLiteral: Bool {
        switch self {
        case .token, .list, .quoted, .beforeLastColon: true
        case .localTime, .isoTime, .epoch, .timePiece: false
        }
    }
}

/// One field of a template, with the literal text that follows it.
struct TemplateField: Sendable, Hashable {
    var shape: FieldShape
    var role: FieldRole
    /// The variable or directive as written (`$remote_addr`, `%>s`), for messages.
    var name: String
    /// The literal text after the field (empty: the next field follows at once, or the line ends).
    var literal: [UInt8] = []
    /// The normalised name of the request header the field logs, if it logs one.
    var header: String? = nil
}

/// The request headers whose fields play a role: `--real-ip` and `--country-from`.
public struct HeaderRoles: Sendable, Hashable {
    /// The header holding the address chain (`--real-ip`).
    public var forwarded: HeaderName?
    /// The header holding the visitor's country (`--country-from`).
    public var country: HeaderName?

    public init(forwarded: HeaderName? = nil, country: HeaderName? = nil) {
        self.forwarded = forwarded
        self.country = country
    }
}

/// A request header's name as the user wrote it, and as formats are matched against it.
public struct HeaderName: Sendable, Hashable, CustomStringConvertible {
    /// As given (`X-Forwarded-For`).
    public let name: String
    /// Lower case, `-` as `_` (`x_forwarded_for`): how nginx names it after `$http_`, and how
    /// Apache, W3C and JSON names are compared.
    public let normalized: String

    public init(_ name: String) {
        self.name = name
        var text = name.lowercased().replacing("-", with: "_")
        if text.hasPrefix("$") { text.removeFirst() }
        if text.hasPrefix("http_") { text.removeFirst(5) }
        self.normalized = text
    }

    /// Lower case with `-` between words (`x-forwarded-for`): the name as a request carries it,
    /// for logs that keep the request's own header names (Caddy), where `X_Forwarded_For`
    /// is another header, one a visitor can send.
    public var dashed: String {
        String(decoding: normalized.utf8.map { $0 == UInt8(ascii: "_") ? UInt8(ascii: "-") : $0 }, as: UTF8.self)
    }

    /// The chain syntax: RFC 7239 `for=` pairs for `Forwarded`, else comma-separated addresses.
    public var isRFC7239: Bool { normalized == "forwarded" }

    public var description: String { name }
}

/// Why a format string cannot be used: a usage error naming the part at fault.
public struct FormatError: Error, Sendable, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension LogTemplate {
    /// Gives each role to its best field and checks that the template can be read safely.
    ///
    /// `candidates` are the fields with the role each would take and its rank (lower is
    /// better): of several fields wanting one role, the best-ranked keeps it and the others
    /// become opaque. Then the template must hold a time, a status and a client (or a header
    /// that can carry one, `clientHeaders`), and every field whose end is found by what follows
    /// it must have a literal after it, unless it is the last.
    static func assemble(
        dialect: Dialect, source: String, leading: [UInt8], fields raw: [(field: TemplateField, rank: Int)],
        clientHeaders: Set<String>, requireClient: Bool = true
    ) throws(FormatError) -> LogTemplate {
        var fields = raw.map(\.field)
        // The best field of each single-field role keeps it.
        for role in [FieldRole.client, .host, .status, .size, .request, .path] {
            let wanting = raw.indices.filter { raw[$0].field.role == role }
            guard let best = wanting.min(by: { raw[$0].rank < raw[$1].rank }) else { continue }
            for index in wanting where index != best { fields[index].role = .opaque }
        }
        // Time: the best whole-time field, or every piece when there is none.
        let whole = raw.indices.filter {
            guard raw[$0].field.role == .time else { return false }
            if case .timePiece = raw[$0].field.shape { return false }
            return true
        }
        if let best = whole.min(by: { raw[$0].rank < raw[$1].rank }) {
            for index in fields.indices where fields[index].role == .time && index != best { fields[index].role = .opaque }
        }
        let template = LogTemplate(dialect: dialect, source: source, leading: leading, fields: fields)
        try template.validate(clientHeaders: clientHeaders, requireClient: requireClient)
        return template
    }

    private func validate(clientHeaders: Set<String>, requireClient: Bool) throws(FormatError) {
        let names =
            dialect == .apache
            ? (time: "%t", status: "%>s", client: "%h or %a")
            : (time: "$time_local, $time_iso8601 or $msec", status: "$status", client: "$remote_addr")
        let pieces = Set(
            fields.compactMap { field -> TimePiece? in
                if field.role == .time, case .timePiece(let piece) = field.shape { return piece }
                return nil
            })
        let wholeTime = fields.contains { field in
            guard field.role == .time else { return false }
            if case .timePiece = field.shape { return false }
            return true
        }
        let datePieces =
            pieces.contains(.epochSeconds)
            || ((pieces.contains(.year) || pieces.contains(.shortYear))
                && (pieces.contains(.dayOfYear)
                    || ((pieces.contains(.month) || pieces.contains(.monthName) || pieces.contains(.fullMonthName))
                        && (pieces.contains(.day) || pieces.contains(.spacedDay))))
                && (pieces.contains(.hour) || pieces.contains(.twelveHour)) && pieces.contains(.minute))
        if pieces.contains(.twelveHour), !pieces.contains(.meridiem), !pieces.contains(.epochSeconds) {
            throw FormatError("the format's time has a 12-hour clock (%I) without AM/PM (%p): the hour is ambiguous")
        }
        guard wholeTime || datePieces else {
            throw FormatError(
                "the format has no time logsurge can read (\(names.time))\(pieces.isEmpty ? "" : ": its time lacks the year, month, day, hour or minute")"
            )
        }
        guard has(.status) else { throw FormatError("the format has no status (\(names.status))") }
        if requireClient, !has(.client), !fields.contains(where: { $0.header.map(clientHeaders.contains) ?? false }) {
            throw FormatError(
                "the format has no client address (\(names.client)); a format whose only client is a forwarded header (such as X-Forwarded-For) needs --real-ip naming it"
            )
        }
        for (index, field) in fields.enumerated() where field.shape.endsAtLiteral && field.literal.isEmpty && index + 1 < fields.count {
            throw FormatError(
                "\(field.name) and \(fields[index + 1].name) have nothing between them: logsurge cannot tell where \(field.name) ends")
        }
    }
}
