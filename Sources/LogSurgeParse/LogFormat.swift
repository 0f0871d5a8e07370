/// An access-log line layout that `AccessLogParser` understands.
///
/// Each case is a default layout of Apache httpd (`LogFormat`) or nginx (`log_format`).
/// The raw value is the name used by `--format` and in reports.
public enum LogFormat: String, CaseIterable, Sendable {
    /// Apache `"%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\""`, and nginx's
    /// predefined `combined`: `$remote_addr - $remote_user [$time_local] "$request" $status
    /// $body_bytes_sent "$http_referer" "$http_user_agent"`.
    ///
    /// The two quoted fields after the size are required; anything after them (such as
    /// nginx's extra `"$http_x_forwarded_for"`) is ignored.
    case combined
    /// Apache `"%h %l %u %t \"%r\" %>s %b"` (Common Log Format).
    ///
    /// Anything after the size, separated by a space, is ignored, so combined lines also
    /// parse as common.
    case common
    /// Apache `"%v:%p %h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\""`:
    /// combined with the virtual host and port in front.
    case vhostCombined = "vhost_combined"
    /// Apache `"%v %h %l %u %t \"%r\" %>s %b"`: common with the virtual host in front
    /// (Debian's `vhost_common`); a `:port` suffix on the host is accepted and dropped.
    case vhostCommon = "vhost_common"

    /// Whether lines start with a virtual-host field.
    var hasHost: Bool { self == .vhostCombined || self == .vhostCommon }

    /// Whether the quoted referer and user-agent fields must follow the size.
    var requiresAgent: Bool { self == .combined || self == .vhostCombined }

    /// Detection preference when formats parse equally many lines: the most specific first.
    ///
    /// A format is more specific than another when every line it accepts the other also
    /// accepts (combined ⊂ common, vhost_combined ⊂ vhost_common).
    static let bySpecificity: [LogFormat] = [.vhostCombined, .combined, .vhostCommon, .common]
}

/// Why a line was not counted as a request.
///
/// A small, fixed set; raw values are the names used in reports and JSON. When several
/// fields of a line are wrong, the reason names the first one, reading left to right.
public enum MalformedReason: String, CaseIterable, Sendable, Comparable {
    /// The line is empty, or holds only spaces and a trailing carriage return.
    case empty = "empty_line"
    /// The line is longer than `AccessLogParser.maxLineLength` bytes.
    case tooLong = "line_too_long"
    /// The client field is empty or holds bytes that are not printable ASCII (or a `"`).
    case badClient = "bad_client"
    /// The `[dd/Mon/yyyy:HH:MM:SS ±hhmm]` field is not a real date, time and offset.
    case badTimestamp = "bad_timestamp"
    /// The quoted request field is missing or never closed.
    case badRequest = "bad_request"
    /// The status is not exactly three digits.
    case badStatus = "bad_status"
    /// The size is neither `-` nor digits that fit in 64 bits.
    case badSize = "bad_size"
    /// The line does not have the format's fields: something is missing or misplaced.
    case badFormat = "bad_format"

    /// Position in `allCases`, for flat per-reason counters.
    @inlinable
    public var index: Int {
        switch self {
        case .empty: 0
        case .tooLong: 1
        case .badClient: 2
        case .badTimestamp: 3
        case .badRequest: 4
        case .badStatus: 5
        case .badSize: 6
        case .badFormat: 7
        }
    }

    /// Orders reasons by their report name, so reports list them alphabetically.
    public static func < (lhs: MalformedReason, rhs: MalformedReason) -> Bool {
        lhs.rawValue < rhs.rawValue
    }
}

/// One parsed line: integers plus byte ranges into the line.
///
/// The ranges are offsets into the buffer given to the parser and mean something only while
/// that buffer is alive and unchanged.
public struct ParsedLine: Sendable, Equatable {
    /// The request's minute in UTC, counted from 1970-01-01T00:00Z, whatever offset the line carried.
    public var minute: Int32
    /// The status as written, 0...999; its class is `status / 100`.
    public var status: UInt16
    /// The line ended inside a quoted field that came after everything needed: it counts, and
    /// the fields after the cut are missing.
    public var truncated: Bool
    /// The time gave no offset from UTC (a JSON ISO 8601 time without one) and was read as UTC.
    public var timeWithoutZone = false
    /// The response size; `-` (or a size the line does not give) counts as 0.
    public var bytes: UInt64
    // The ranges, stored as 32-bit offsets (lines are at most `AccessLogParser.maxLineLength`
    // bytes) so that a parsed line stays small enough to return cheaply; `Field.none` is absent.
    private var clientField = Field.none, hostField = Field.none, pathField = Field.none
    private var forwardedField = Field.none, countryField = Field.none

    /// The connecting client: an IP address as text, or a host name if the server logged one;
    /// nil when the format logs none (only a forwarded chain).
    public var client: Range<Int>? {
        get { clientField.range }
        set { clientField = Field(newValue) }
    }
    /// The virtual host without its `:port` suffix, when the format logs one; else `nil`.
    public var host: Range<Int>? {
        get { hostField.range }
        set { hostField = Field(newValue) }
    }
    /// The request target when the request is `METHOD TARGET PROTO` or `METHOD TARGET`; else `nil`.
    public var path: Range<Int>? {
        get { pathField.range }
        set { pathField = Field(newValue) }
    }
    /// The text of the `--real-ip` header (an address chain) when the format logs it and the
    /// line holds a value (not `-`); else `nil`.
    public var forwarded: Range<Int>? {
        get { forwardedField.range }
        set { forwardedField = Field(newValue) }
    }
    /// The text of the `--country-from` header when logged and not `-`; else `nil`.
    public var countryHint: Range<Int>? {
        get { countryField.range }
        set { countryField = Field(newValue) }
    }

    @inlinable
    public init(
        minute: Int32, status: UInt16, bytes: UInt64, client: Range<Int>?,
        host: Range<Int>? = nil, path: Range<Int>? = nil, forwarded: Range<Int>? = nil,
        countryHint: Range<Int>? = nil, truncated: Bool = false
    ) {
        self.minute = minute
        self.status = status
        self.bytes = bytes
        self.truncated = truncated
        self.client = client
        self.host = host
        self.path = path
        self.forwarded = forwarded
        self.countryHint = countryHint
    }

    /// A range of a line in 32 bits a bound; `none` when absent.
    @usableFromInline
    struct Field: Sendable, Equatable {
        var lower: Int32
        var upper: Int32

        static let none = Field(lower: -1, upper: -1)

        @inline(__always)
        init(lower: Int32, upper: Int32) {
            self.lower = lower
            self.upper = upper
        }

        @inline(__always)
        init(_ range: Range<Int>?) {
            if let range {
                lower = Int32(truncatingIfNeeded: range.lowerBound)
                upper = Int32(truncatingIfNeeded: range.upperBound)
            } else {
                self = .none
            }
        }

        @inline(__always)
        var range: Range<Int>? { lower < 0 ? nil : Int(lower)..<Int(upper) }
    }
}

/// The outcome of parsing one line: its fields, why it does not count as a request, or that
/// it is a directive of the log itself (a W3C `#Fields:` line), which is not a log line at all.
public enum ParseResult: Sendable, Equatable {
    case parsed(ParsedLine)
    case malformed(MalformedReason)
    case directive
}
