import LogSurgeParse
import LogSurgeCore

/// One generated request, before it is written in a format.
public struct GeneratedRequest: Sendable {
    /// UTC minute and second.
    public var minute: Int32
    public var second: Int
    /// The visitor's address, and its country's code.
    public var client: [UInt8]
    public var country: String
    public var method: String
    public var path: String
    /// The request line as logged (already escaped, `\x16\x03…`) when it is not
    /// `METHOD PATH HTTP/1.1`: a TLS handshake on the plain HTTP port.
    public var rawRequest: String?
    public var status: Int
    public var bytes: Int
    public var referer: String
    public var agent: String
    public var host: String
    /// Behind a proxy or CDN: the address the server saw, and the X-Forwarded-For it received.
    public var connecting: [UInt8]?
    public var forwardedFor: String?

    /// The request line as the server logs it.
    var requestLine: String { rawRequest ?? "\(method) \(path) HTTP/1.1" }
    /// The address the server saw connecting.
    var peer: [UInt8] { connecting ?? client }
}

/// How the generator writes its requests: one of the named formats, or a format string.
public enum GeneratedLayout: Sendable, Equatable {
    /// A built-in layout, written as Apache and nginx write it.
    case builtin(LogFormat)
    /// An nginx `log_format` body or Apache `LogFormat` string, its variables or directives
    /// replaced by the request's values (`main`, `xff_combined`, `json` are such strings).
    case formatString(String)
    /// Caddy's JSON access log.
    case caddy
    /// AWS Application Load Balancer access log.
    case alb
    /// IIS W3C extended log, with its `#` directives at the start of each file.
    case iis
    /// CloudFront standard log (W3C, tab-separated), with its directives.
    case cloudfront

    /// The layouts by the name `logsurge generate --format` takes.
    public static let named: [(name: String, layout: GeneratedLayout)] =
        LogFormat.allCases.map { ($0.rawValue, .builtin($0)) } + [
            ("main", .formatString(mainString)), ("xff_combined", .formatString(xffCombinedString)), ("json", .formatString(jsonTemplate)),
            ("caddy", .caddy), ("alb", .alb), ("w3c", .iis), ("cloudfront", .cloudfront),
        ]

    /// nginx's stock `log_format main`.
    public static let mainString =
        #"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for""#
    /// Apache's proxy layout.
    public static let xffCombinedString = #"%{X-Forwarded-For}i %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\""#
    /// An nginx JSON template with the keys such templates usually have.
    public static let jsonTemplate =
        #"escape=json '{"time_iso8601":"$time_iso8601","remote_addr":"$remote_addr","request":"$request","status":$status,"body_bytes_sent":$body_bytes_sent,"request_time":$request_time,"http_referer":"$http_referer","http_user_agent":"$http_user_agent","http_x_forwarded_for":"$http_x_forwarded_for","http_cf_ipcountry":"$http_cf_ipcountry","host":"$host"}'"#
}

/// Writes generated requests in a layout, as the server would have.
struct RequestWriter {
    let layout: GeneratedLayout
    /// The server clock's offset from UTC, for the layouts that log local time.
    let offsetMinutes: Int
    private let nginx: (body: [UInt8], escape: NginxEscape)?
    private let apache: [UInt8]?
    /// Whether the layout logs the connecting address (not only a forwarded header).
    let logsClient: Bool

    enum NginxEscape { case standard, json, none }

    init(layout: GeneratedLayout, offsetMinutes: Int) {
        self.layout = layout
        self.offsetMinutes = offsetMinutes
        var nginx: (body: [UInt8], escape: NginxEscape)?
        var apache: [UInt8]?
        if case .formatString(let string) = layout {
            if FormatString.dialect(of: string) == .apache {
                apache = ApacheDirective.unescape(ApacheDirective.configurationString(string))
            } else {
                let trimmed = string.trimmingSpaces
                let escape: NginxEscape =
                    trimmed.hasPrefix("escape=json") || trimmed.contains("log_format") && trimmed.contains("escape=json")
                    ? .json : trimmed.hasPrefix("escape=none") ? .none : .standard
                nginx = ((try? NginxVariable.configurationBody(string)).map { Array($0.utf8) } ?? Array(string.utf8), escape)
            }
        }
        self.nginx = nginx
        self.apache = apache
        if case .formatString(let string) = layout,
            case .template(let template)? = try? FormatString.compile(string, clientHeaders: ["x_forwarded_for"])
        {
            logsClient = template.hasClient
        } else {
            logsClient = true
        }
    }

    /// The lines a file of this layout starts with (W3C directives), for a file whose first minute is `minute`.
    func header(minute: Int32) -> [UInt8] {
        let (date, time) = Self.utcDateTime(minute: minute, second: 0)
        switch layout {
        case .iis:
            return Array(
                """
                #Software: Microsoft Internet Information Services 10.0
                #Version: 1.0
                #Date: \(date) \(time)
                #Fields: \(Self.iisFields.joined(separator: " "))

                """.utf8)
        case .cloudfront:
            return Array("#Version: 1.0\n#Fields: \(Self.cloudfrontFields.joined(separator: " "))\n".utf8)
        default:
            return []
        }
    }

    static let iisFields = [
        "date", "time", "s-ip", "cs-method", "cs-uri-stem", "cs-uri-query", "s-port", "cs-username", "c-ip",
        "cs(User-Agent)", "cs(Referer)", "cs(Host)", "sc-status", "sc-substatus", "sc-win32-status", "sc-bytes",
        "time-taken", "X-Forwarded-For",
    ]
    static let cloudfrontFields = [
        "date", "time", "x-edge-location", "sc-bytes", "c-ip", "cs-method", "cs(Host)", "cs-uri-stem", "sc-status",
        "cs(Referer)", "cs(User-Agent)", "cs-uri-query", "cs(Cookie)", "x-edge-result-type", "x-edge-request-id",
        "x-host-header", "cs-protocol", "cs-bytes", "time-taken", "x-forwarded-for", "ssl-protocol", "ssl-cipher",
        "x-edge-response-result-type", "cs-protocol-version", "fle-status", "fle-encrypted-fields", "c-port",
        "time-to-first-byte", "x-edge-detailed-result-type", "sc-content-type", "sc-content-len",
        "sc-range-start", "sc-range-end",
    ]

    /// Appends `request` as one line.
    func append(_ request: GeneratedRequest, to out: inout [UInt8]) {
        switch layout {
        case .builtin(let format): appendBuiltin(request, format: format, to: &out)
        case .formatString:
            if let nginx { appendNginx(request, body: nginx.body, escape: nginx.escape, to: &out) }
            if let apache { appendApache(request, format: apache, to: &out) }
        case .caddy: appendCaddy(request, to: &out)
        case .alb: appendALB(request, to: &out)
        case .iis: appendIIS(request, to: &out)
        case .cloudfront: appendCloudFront(request, to: &out)
        }
        out.append(0x0A)
    }

    // MARK: - The built-in layouts

    private func appendBuiltin(_ request: GeneratedRequest, format: LogFormat, to out: inout [UInt8]) {
        switch format {
        case .vhostCombined: out += Array("\(request.host):443 ".utf8)
        case .vhostCommon: out += Array("\(request.host) ".utf8)
        case .combined, .common: break
        }
        out += request.peer
        out += Array(" - - [".utf8)
        out += localTime(request)
        out += Array("] \"\(request.rawRequest ?? apacheEscaped(request.requestLine))\" \(request.status) \(request.bytes)".utf8)
        if format == .combined || format == .vhostCombined {
            out += Array(" \"\(apacheEscaped(request.referer))\" \"\(apacheEscaped(request.agent))\"".utf8)
        }
    }

    // MARK: - Format strings

    /// The value an nginx variable has for `request` (unescaped); `-` for what is not there.
    private func nginxValue(_ name: String, _ request: GeneratedRequest) -> String {
        switch name {
        case "remote_addr", "realip_remote_addr": return String(decoding: request.peer, as: UTF8.self)
        case "remote_user": return "-"
        case "time_local": return String(decoding: localTime(request), as: UTF8.self)
        case "time_iso8601": return isoTime(request)
        case "msec": return "\(Int(request.minute) * 60 + request.second).\(pad3(request.second * 7 % 1000))"
        case "request": return request.requestLine
        case "request_uri", "uri": return request.rawRequest == nil ? request.path : "-"
        case "request_method": return request.rawRequest == nil ? request.method : "-"
        case "status": return "\(request.status)"
        case "body_bytes_sent": return "\(request.bytes)"
        case "bytes_sent": return "\(request.bytes + 240)"
        case "http_referer": return request.referer
        case "http_user_agent": return request.agent
        case "http_x_forwarded_for": return request.forwardedFor ?? "-"
        case "http_cf_ipcountry", "http_cloudfront_viewer_country": return request.connecting == nil ? "-" : request.country
        case "http_cf_connecting_ip", "http_true_client_ip", "http_x_real_ip":
            return request.connecting == nil ? "-" : String(decoding: request.client, as: UTF8.self)
        case "host", "server_name", "http_host": return request.host
        case "server_port": return "443"
        case "request_time": return "0.\(pad3((request.bytes / 97) % 1000))"
        case "upstream_response_time": return request.bytes % 3 == 0 ? "0.002, 0.001 : 0.000" : "0.002"
        default: return "-"
        }
    }

    private func appendNginx(_ request: GeneratedRequest, body: [UInt8], escape: NginxEscape, to out: inout [UInt8]) {
        var i = 0
        while i < body.count {
            guard body[i] == UInt8(ascii: "$"), i + 1 < body.count else {
                out.append(body[i])
                i += 1
                continue
            }
            var name: [UInt8]
            if body[i + 1] == UInt8(ascii: "{"), let close = body[(i + 2)...].firstIndex(of: UInt8(ascii: "}")) {
                name = Array(body[(i + 2)..<close])
                i = close + 1
            } else {
                var j = i + 1
                while j < body.count, isNameByte(body[j]) { j += 1 }
                name = Array(body[(i + 1)..<j])
                i = j
            }
            guard !name.isEmpty else {
                out.append(UInt8(ascii: "$"))
                continue
            }
            let variable = String(decoding: name, as: UTF8.self).lowercased()
            let value = nginxValue(variable, request)
            // nginx logs an empty or missing value as "-" in text formats, and as "" with escape=json.
            let text = escape == .json && value == "-" ? "" : value
            // A request logged as escaped text already (a TLS handshake) is written as it is.
            if variable == "request", request.rawRequest != nil, escape != .json {
                out += Array(text.utf8)
                continue
            }
            for byte in text.utf8 {
                switch escape {
                case .none: out.append(byte)
                case .json:
                    switch byte {
                    case UInt8(ascii: "\""): out += Array("\\\"".utf8)
                    case UInt8(ascii: "\\"): out += Array("\\\\".utf8)
                    case ..<0x20: out += Array("\\u00\(String(byte, radix: 16).count == 1 ? "0" : "")\(String(byte, radix: 16))".utf8)
                    default: out.append(byte)
                    }
                case .standard:
                    if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 || byte >= 0x7F {
                        let hex = String(byte, radix: 16, uppercase: true)
                        out += Array("\\x\(hex.count == 1 ? "0" : "")\(hex)".utf8)
                    } else {
                        out.append(byte)
                    }
                }
            }
        }
    }

    private func isNameByte(_ byte: UInt8) -> Bool {
        (byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A || byte >= 0x30 && byte <= 0x39 || byte == 0x5F
    }

    private func appendApache(_ request: GeneratedRequest, format: [UInt8], to out: inout [UInt8]) {
        var i = 0
        while i < format.count {
            guard format[i] == UInt8(ascii: "%"), i + 1 < format.count else {
                out.append(format[i])
                i += 1
                continue
            }
            i += 1
            while i < format.count,
                [UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "!"), UInt8(ascii: ",")].contains(format[i])
                    || (format[i] >= 0x30 && format[i] <= 0x39)
            { i += 1 }
            var argument: String?
            if i < format.count, format[i] == UInt8(ascii: "{"), let close = format[(i + 1)...].firstIndex(of: UInt8(ascii: "}")) {
                argument = String(decoding: format[(i + 1)..<close], as: UTF8.self)
                i = close + 1
            }
            guard i < format.count else { break }
            let letter = Character(UnicodeScalar(format[i]))
            i += 1
            let value: String
            switch letter {
            case "%": value = "%"
            case "h", "a": value = String(decoding: request.peer, as: UTF8.self)
            case "l", "u": value = "-"
            case "t":
                switch argument {
                case nil, "": value = "[" + String(decoding: localTime(request), as: UTF8.self) + "]"
                case "sec": value = "\(Int(request.minute) * 60 + request.second)"
                case "msec": value = "\((Int(request.minute) * 60 + request.second) * 1000 + 123)"
                case "usec": value = "\((Int(request.minute) * 60 + request.second) * 1_000_000 + 123_456)"
                case "msec_frac": value = "123"
                case "usec_frac": value = "123456"
                case let pattern?:
                    value = strftime(
                        pattern.hasPrefix("begin:") || pattern.hasPrefix("end:")
                            ? String(pattern.drop(while: { $0 != ":" }).dropFirst()) : pattern, request)
                }
            case "r": value = request.rawRequest ?? apacheEscaped(request.requestLine)
            case "s": value = "\(request.status)"
            case "b": value = request.bytes == 0 ? "-" : "\(request.bytes)"
            case "B": value = "\(request.bytes)"
            case "O": value = "\(request.bytes + 240)"
            case "D": value = "\(request.bytes / 7 + 100)"
            case "T": value = "0"
            case "U": value = request.rawRequest == nil ? request.path : "-"
            case "v", "V": value = request.host
            case "p": value = "443"
            case "i":
                switch HeaderName(argument ?? "").normalized {
                case "referer": value = apacheEscaped(request.referer)
                case "user_agent": value = apacheEscaped(request.agent)
                case "x_forwarded_for": value = request.forwardedFor ?? "-"
                case "host": value = request.host
                case "cf_ipcountry": value = request.connecting == nil ? "-" : request.country
                case "cf_connecting_ip", "true_client_ip", "x_real_ip":
                    value = request.connecting == nil ? "-" : String(decoding: request.client, as: UTF8.self)
                default: value = "-"
                }
            default: value = "-"
            }
            out += Array(value.utf8)
        }
    }

    /// `"` and `\` escaped as Apache writes them in `%r` and `%{…}i`.
    private func apacheEscaped(_ text: String) -> String {
        var out = ""
        for character in text {
            if character == "\"" || character == "\\" { out.append("\\") }
            out.append(character)
        }
        return out
    }

    // MARK: - Caddy, ALB, W3C

    private func appendCaddy(_ request: GeneratedRequest, to out: inout [UInt8]) {
        let peer = String(decoding: request.peer, as: UTF8.self)
        var headers = #""User-Agent":[\#(json(request.agent))],"Accept":["*/*"]"#
        if request.referer != "-" { headers += #","Referer":[\#(json(request.referer))]"# }
        if let chain = request.forwardedFor {
            headers += #","X-Forwarded-For":[\#(json(chain))],"Cf-Ipcountry":[\#(json(request.country))]"#
        }
        let seconds = Int(request.minute) * 60 + request.second
        out += Array(
            #"{"level":"info","ts":\#(seconds).\#(pad3(request.bytes % 1000))4241,"logger":"http.log.access.log0","msg":"handled request","request":{"remote_ip":\#(json(peer)),"remote_port":"41342","client_ip":\#(json(peer)),"proto":"HTTP/1.1","method":\#(json(request.rawRequest == nil ? request.method : "")),"host":\#(json(request.host)),"uri":\#(json(request.rawRequest == nil ? request.path : "")),"headers":{\#(headers)}},"bytes_read":0,"user_id":"","duration":0.000929675,"size":\#(request.bytes),"status":\#(request.status),"resp_headers":{"Server":["Caddy"],"Content-Type":["text/html; charset=utf-8"]}}"#
                .utf8)
    }

    private func appendALB(_ request: GeneratedRequest, to out: inout [UInt8]) {
        let (date, time) = Self.utcDateTime(minute: request.minute, second: request.second)
        let stamp = "\(date)T\(time).\(pad3(request.bytes % 1000))641Z"
        let target =
            request.rawRequest == nil
            ? "\(request.method) https://\(request.host):443\(request.path) HTTP/1.1"
            : "- https://\(request.host):443- -"
        let peer = String(decoding: request.peer, as: UTF8.self)
        out += Array(
            #"https \#(stamp) app/my-loadbalancer/50dc6c495c0c9188 \#(peer):2817 10.0.0.1:80 0.001 0.048 0.000 \#(request.status) \#(request.status) 154 \#(request.bytes) "\#(target)" "\#(request.agent.replacing("\"", with: "\\\""))" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337281-1d84f3d73c47ec4e58577259" "\#(request.host)" "arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012" 0 \#(stamp) "forward" "-" "-" "10.0.0.1:80" "\#(request.status)" "-" "-""#
                .utf8)
    }

    private func appendIIS(_ request: GeneratedRequest, to out: inout [UInt8]) {
        let (date, time) = Self.utcDateTime(minute: request.minute, second: request.second)
        let (stem, query) = splitQuery(request.rawRequest == nil ? request.path : "-")
        let values = [
            date, time, "10.0.0.4", request.rawRequest == nil ? request.method : "-", stem, query, "443", "-",
            String(decoding: request.peer, as: UTF8.self), w3c(request.agent), w3c(request.referer), request.host,
            "\(request.status)", "0", "0", "\(request.bytes)", "15", request.forwardedFor.map(w3c) ?? "-",
        ]
        out += Array(values.joined(separator: " ").utf8)
    }

    private func appendCloudFront(_ request: GeneratedRequest, to out: inout [UInt8]) {
        let (date, time) = Self.utcDateTime(minute: request.minute, second: request.second)
        let (stem, query) = splitQuery(request.rawRequest == nil ? request.path : "-")
        let values = [
            date, time, "SEA19-C1", "\(request.bytes)", String(decoding: request.client, as: UTF8.self),
            request.rawRequest == nil ? request.method : "-", "d111111abcdef8.cloudfront.net", stem, "\(request.status)",
            cloudfront(request.referer), cloudfront(request.agent), query, "-", "Hit",
            "SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==",
            request.host, "https", "163", "0.001", "-", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", "Hit", "HTTP/2.0", "-", "-",
            "11040", "0.001", "Hit", "text/html", "\(request.bytes)", "-", "-",
        ]
        out += Array(values.joined(separator: "\t").utf8)
    }

    private func splitQuery(_ target: String) -> (String, String) {
        guard let mark = target.firstIndex(of: "?") else { return (target, "-") }
        return (String(target[..<mark]), String(target[target.index(after: mark)...]))
    }

    /// IIS writes spaces as `+`.
    private func w3c(_ text: String) -> String { text.replacing(" ", with: "+") }

    /// CloudFront URL-encodes spaces and other special bytes.
    private func cloudfront(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            if byte <= 0x20 || byte >= 0x7F || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "%") {
                out += "%" + hex2(byte)
            } else {
                out.append(Character(UnicodeScalar(byte)))
            }
        }
        return out
    }

    private func json(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += "\\u00" + hex2(UInt8(scalar.value))
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    // MARK: - Times

    /// `dd/Mon/yyyy:HH:MM:SS ±hhmm` in the server's time zone.
    private func localTime(_ request: GeneratedRequest) -> [UInt8] {
        let local = Int(request.minute) + offsetMinutes
        let days = local >= 0 ? local / 1440 : (local - 1439) / 1440
        let (year, month, day) = UTCMinute.civil(fromDays: days)
        let minuteOfDay = local - days * 1440
        let sign = offsetMinutes < 0 ? "-" : "+"
        let zone = "\(sign)\(two(abs(offsetMinutes) / 60))\(two(abs(offsetMinutes) % 60))"
        return Array(
            "\(two(day))/\(Self.months[month - 1])/\(year):\(two(minuteOfDay / 60)):\(two(minuteOfDay % 60)):\(two(request.second)) \(zone)"
                .utf8)
    }

    /// The request's time written by a strftime pattern, in the server's time zone.
    private func strftime(_ pattern: String, _ request: GeneratedRequest) -> String {
        let local = Int(request.minute) + offsetMinutes
        let days = local >= 0 ? local / 1440 : (local - 1439) / 1440
        let (year, month, day) = UTCMinute.civil(fromDays: days)
        let minuteOfDay = local - days * 1440
        let hour = minuteOfDay / 60, minute = minuteOfDay % 60
        let sign = offsetMinutes < 0 ? "-" : "+"
        var out = ""
        var characters = pattern.makeIterator()
        while let character = characters.next() {
            guard character == "%", let conversion = characters.next() else {
                out.append(character)
                continue
            }
            switch conversion {
            case "Y": out += "\(year)"
            case "y": out += two(year % 100)
            case "m": out += two(month)
            case "d": out += two(day)
            case "e": out += day < 10 ? " \(day)" : "\(day)"
            case "b", "h": out += Self.months[month - 1]
            case "H": out += two(hour)
            case "I": out += two(hour % 12 == 0 ? 12 : hour % 12)
            case "p": out += hour < 12 ? "AM" : "PM"
            case "M": out += two(minute)
            case "S": out += two(request.second)
            case "T": out += "\(two(hour)):\(two(minute)):\(two(request.second))"
            case "F": out += "\(year)-\(two(month))-\(two(day))"
            case "z": out += "\(sign)\(two(abs(offsetMinutes) / 60))\(two(abs(offsetMinutes) % 60))"
            case "s": out += "\(Int(request.minute) * 60 + request.second)"
            case "%": out += "%"
            default: out += "?"
            }
        }
        return out
    }

    /// ISO 8601 in the server's time zone, as nginx's `$time_iso8601`.
    private func isoTime(_ request: GeneratedRequest) -> String {
        let local = Int(request.minute) + offsetMinutes
        let days = local >= 0 ? local / 1440 : (local - 1439) / 1440
        let (year, month, day) = UTCMinute.civil(fromDays: days)
        let minuteOfDay = local - days * 1440
        let sign = offsetMinutes < 0 ? "-" : "+"
        return
            "\(year)-\(two(month))-\(two(day))T\(two(minuteOfDay / 60)):\(two(minuteOfDay % 60)):\(two(request.second))\(sign)\(two(abs(offsetMinutes) / 60)):\(two(abs(offsetMinutes) % 60))"
    }

    /// `YYYY-MM-DD` and `HH:MM:SS` in UTC.
    static func utcDateTime(minute: Int32, second: Int) -> (String, String) {
        let total = Int(minute)
        let days = total >= 0 ? total / 1440 : (total - 1439) / 1440
        let (year, month, day) = UTCMinute.civil(fromDays: days)
        let minuteOfDay = total - days * 1440
        return ("\(year)-\(two(month))-\(two(day))", "\(two(minuteOfDay / 60)):\(two(minuteOfDay % 60)):\(two(second))")
    }

    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
}

private func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }

/// Three digits, zero-padded.
private func pad3(_ value: Int) -> String {
    let digits = "\(value)"
    return String(repeating: "0", count: max(0, 3 - digits.count)) + digits
}

/// Two upper-case hex digits.
private func hex2(_ byte: UInt8) -> String {
    let digits = String(byte, radix: 16, uppercase: true)
    return (digits.count == 1 ? "0" : "") + digits
}
