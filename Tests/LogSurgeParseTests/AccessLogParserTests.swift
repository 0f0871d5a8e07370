import LogSurgeParse
import Testing

@Suite("Access-log formats")
struct FormatTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var format: LogFormat
        var line: String
        var expected: Fields
        var testDescription: String { "\(format.rawValue): \(name)" }
    }

    static let defaultLines: [Case] = [
        Case(
            name: "Apache combined (documentation example)", format: .combined,
            line:
                #"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)""#,
            expected: Fields(
                minute: "2000-10-10T20:55Z", status: 200, bytes: 2326, client: "127.0.0.1", path: "/apache_pb.gif")),
        Case(
            name: "nginx combined", format: .combined,
            line: #"93.184.216.34 - - [09/Nov/2016:02:31:07 +0000] "GET /immigrate/?lang=en HTTP/1.1" 200 612 "-" "curl/7.50.1""#,
            expected: Fields(
                minute: "2016-11-09T02:31Z", status: 200, bytes: 612, client: "93.184.216.34",
                path: "/immigrate/?lang=en")),
        Case(
            name: "nginx combined plus $http_x_forwarded_for", format: .combined,
            line:
                #"10.1.2.3 - alice [09/Nov/2016:02:31:07 +0100] "POST /api/login HTTP/2.0" 401 53 "https://example.com/" "Mozilla/5.0 (X11)" "203.0.113.9, 10.0.0.1""#,
            expected: Fields(
                minute: "2016-11-09T01:31Z", status: 401, bytes: 53, client: "10.1.2.3", path: "/api/login")),
        Case(
            name: "Apache common (documentation example)", format: .common,
            line: #"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#,
            expected: Fields(
                minute: "2000-10-10T20:55Z", status: 200, bytes: 2326, client: "127.0.0.1", path: "/apache_pb.gif")),
        Case(
            name: "combined line read as common", format: .common,
            line:
                #"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)""#,
            expected: Fields(
                minute: "2000-10-10T20:55Z", status: 200, bytes: 2326, client: "127.0.0.1", path: "/apache_pb.gif")),
        Case(
            name: "common with a trailing %D field", format: .common,
            line: #"192.0.2.7 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 304 - 1532"#,
            expected: Fields(minute: "2000-10-10T20:55Z", status: 304, bytes: 0, client: "192.0.2.7", path: "/")),
        Case(
            name: "Apache vhost_combined", format: .vhostCombined,
            line: #"www.example.com:443 1.2.3.4 - - [09/Nov/2016:02:31:07 -0500] "GET /a?b=c HTTP/1.1" 301 0 "-" "Mozilla/5.0""#,
            expected: Fields(
                minute: "2016-11-09T07:31Z", status: 301, bytes: 0, client: "1.2.3.4", host: "www.example.com",
                path: "/a?b=c")),
        Case(
            name: "Apache vhost_combined, port 80, IPv6 client", format: .vhostCombined,
            line:
                #"immigration.example.ca:80 2001:db8::7 - - [09/Nov/2016:02:31:59 +0000] "GET /express-entry HTTP/1.1" 200 18231 "https://www.google.ca/" "Mozilla/5.0 (iPhone)""#,
            expected: Fields(
                minute: "2016-11-09T02:31Z", status: 200, bytes: 18231, client: "2001:db8::7",
                host: "immigration.example.ca", path: "/express-entry")),
        Case(
            name: "Debian vhost_common", format: .vhostCommon,
            line: #"www.example.com 1.2.3.4 - - [09/Nov/2016:02:31:07 +0000] "GET / HTTP/1.1" 200 -"#,
            expected: Fields(
                minute: "2016-11-09T02:31Z", status: 200, bytes: 0, client: "1.2.3.4", host: "www.example.com",
                path: "/")),
    ]

    @Test("Default Apache and nginx lines parse to the documented fields", arguments: defaultLines)
    func defaultLine(_ example: Case) {
        #expect(outcome(example.line, example.format) == .parsed(example.expected))
    }

    @Test(
        "A line of one format is not read as another",
        arguments: [
            (commonLine(), LogFormat.combined),
            (commonLine(), .vhostCombined),
            (commonLine(), .vhostCommon),
            (combinedLine(), .vhostCombined),
            ("www.example.com:443 " + combinedLine(), .combined),
            ("www.example.com:443 " + combinedLine(), .common),
            ("www.example.com " + commonLine(), .common),
        ])
    func wrongFormat(_ line: String, _ format: LogFormat) {
        #expect(outcome(line, format).fields == nil)
    }

    @Test(
        "Clients: IPv4, IPv6, IPv4-mapped IPv6 and host names",
        arguments: [
            "192.0.2.1", "2001:db8::1", "::1", "::ffff:1.2.3.4", "fe80::1%eth0", "crawl-66-249-66-1.googlebot.com",
            "localhost",
        ])
    func client(_ client: String) {
        #expect(outcome(combinedLine(client: client), .combined).fields?.client == client)
        #expect(outcome(commonLine(client: client), .common).fields?.client == client)
    }

    @Test("Dashes: size \"-\" counts 0 bytes; user and referer may be \"-\"")
    func dashes() {
        let fields = outcome(combinedLine(user: "-", size: "-", referer: "-", agent: "-"), .combined).fields
        #expect(fields?.bytes == 0)
        #expect(fields?.status == 200)
        #expect(outcome(commonLine(size: "-"), .common).fields?.bytes == 0)
        #expect(outcome(commonLine(size: "0"), .common).fields?.bytes == 0)
        #expect(outcome(commonLine(size: "18446744073709551615"), .common).fields?.bytes == UInt64.max)
    }

    @Test(
        "Users: tokens and quoted users with spaces",
        arguments: ["-", "frank", "user%40example.com", "\\x22bob\\x22", #""john smith""#, #""a \" b""#])
    func user(_ user: String) {
        #expect(outcome(combinedLine(user: user), .combined).fields?.client == "127.0.0.1")
    }

    @Test(
        "Escaped quotes and backslashes inside the request, referer and user agent",
        arguments: [
            (#"GET /search?q=\"x\" HTTP/1.1"#, "-", "-", #"/search?q=\"x\""#),
            (#"GET /a\\ HTTP/1.1"#, "-", "-", #"/a\\"#),
            ("GET / HTTP/1.1", #"http://x/?q=\"y\""#, "-", "/"),
            ("GET / HTTP/1.1", "-", #"Mozilla \"quoted\" \\"#, "/"),
            ("GET / HTTP/1.1", #"\\"#, #"\\\\"#, "/"),
            ("GET / HTTP/1.1", #"a"b"#, #"c"d"#, "/"),  // an unescaped quote not followed by a space is text
        ])
    func escapes(_ request: String, _ referer: String, _ agent: String, _ path: String) {
        let result = outcome(combinedLine(request: request, referer: referer, agent: agent), .combined)
        #expect(result.fields?.path == path, "\(result)")
        #expect(result.fields?.status == 200)
        #expect(result.fields?.bytes == 2326)
    }

    @Test(
        "A user agent cut by the end of the line still counts, marked truncated; one that is missing does not",
        arguments: [
            (#" "-" "Mozilla""#, true, false), (#" "-" """#, true, false), (#" "-" "a\\""#, true, false), (#" "-" "a" "#, true, false),
            (#" "-" "a" extra"#, true, false), (#" "-" "a"b""#, true, false), (#" "-" "a\""#, true, true), (#" "-" "a\"  "#, true, true),
            (#" "-" ""#, true, true), (#" "-" "Mozilla"#, true, true), (#" "-" "a\\\""#, true, true), (#" "htt"#, true, true),
            (#" "-""#, false, false), (#" "-" "#, false, false), (#" -"#, false, false),
        ])
    func agentEnds(_ tail: String, _ parses: Bool, _ truncated: Bool) {
        let line = #"127.0.0.1 - - [09/Nov/2016:02:31:00 +0000] "GET / HTTP/1.1" 200 5"# + tail
        let result = outcome(line, .combined)
        #expect((result.fields != nil) == parses, "\(tail): \(result)")
        #expect(result.fields?.truncated ?? false == truncated, "\(tail): \(result)")
        if !parses { #expect(result == .malformed(.badFormat)) }
    }

    @Test("Without a wanted path, the request is only delimited")
    func pathNotWanted() {
        var parser = AccessLogParser(format: .combined)
        parser.wantsPath = false
        let line = Array(combinedLine(request: "GET /en/immigration HTTP/1.1").utf8)
        let result = line.withUnsafeBytes { parser.parse($0) }
        guard case .parsed(let fields) = result else {
            Issue.record("not parsed: \(result)")
            return
        }
        #expect(fields.path == nil)
        #expect(fields.status == 200)
    }

    @Test(
        "Requests that are not METHOD TARGET PROTO still parse, without a path",
        arguments: [
            #"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03"#, "-", "GET", "", "GET  HTTP/1.1", " GET / HTTP/1.1",
            "GET / HTTP/1.1 extra", "GET / HTTP/1.1 ", "/ HTTP/1.1", "G3T / HTTP/1.1", #"\"GET / HTTP/1.1\""#,
        ])
    func requestWithoutPath(_ request: String) {
        let result = outcome(combinedLine(request: request), .combined)
        #expect(result.fields != nil, "\(result)")
        #expect(result.fields?.path == nil)
    }

    @Test(
        "Request targets",
        arguments: [
            ("GET / HTTP/1.1", "/"), ("GET /a b", "/a"), ("GET /only", "/only"),
            ("OPTIONS * HTTP/1.1", "*"), ("CONNECT example.com:443 HTTP/1.1", "example.com:443"),
            ("M-SEARCH * HTTP/1.1", "*"), ("get /lower HTTP/1.0", "/lower"),
            ("GET http://proxy.example/x?y HTTP/1.1", "http://proxy.example/x?y"),
        ])
    func requestTarget(_ request: String, _ path: String) {
        #expect(outcome(combinedLine(request: request), .combined).fields?.path == path)
    }

    @Test("Raw bytes of 0x80 and above in the request, referer and agent are just bytes")
    func rawHighBytes() {
        var parser = AccessLogParser(format: .combined)
        let prefix = Array(#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /caf"#.utf8)
        let line =
            prefix + [0xC3, 0xA9, 0xFF, 0x80] + Array(#" HTTP/1.1" 200 5 "ref"#.utf8) + [0xFE]
            + Array(#"" "agent"#.utf8) + [0x00, 0x01] + Array("\"".utf8)
        let result = line.withUnsafeBytes { parser.parse($0) }
        guard case .parsed(let fields) = result else {
            Issue.record("expected a parsed line, got \(result)")
            return
        }
        #expect(fields.status == 200)
        #expect(fields.bytes == 5)
        #expect(fields.path.map { Array(line[$0]) } == Array("/caf".utf8) + [0xC3, 0xA9, 0xFF, 0x80])
    }

    @Test(
        "Virtual hosts lose their :port suffix, IPv6 literals stay whole",
        arguments: [
            ("www.example.com:443", "www.example.com"), ("www.example.com", "www.example.com"),
            ("[2001:db8::1]:8443", "[2001:db8::1]"), ("[2001:db8::1]", "[2001:db8::1]"),
            ("2001:db8::1:443", "2001:db8::1"), ("::1", "::1"), ("host:", "host:"), ("host:http", "host:http"),
            ("127.0.0.1:80", "127.0.0.1"),
        ])
    func virtualHost(_ token: String, _ host: String) {
        let line = token + " " + combinedLine()
        #expect(outcome(line, .vhostCombined).fields?.host == host)
        #expect(outcome(token + " " + commonLine(), .vhostCommon).fields?.host == host)
    }

    @Test("An empty host name before the port is not a virtual host")
    func emptyVirtualHost() {
        #expect(outcome(":443 " + combinedLine(), .vhostCombined) == .malformed(.badFormat))
    }

    @Test(
        "CRLF endings and trailing spaces are accepted",
        arguments: LogFormat.allCases)
    func lineEndings(_ format: LogFormat) {
        let base =
            (format == .vhostCombined || format == .vhostCommon ? "site.example:443 " : "")
            + (format == .common || format == .vhostCommon ? commonLine() : combinedLine())
        let expected = outcome(base, format)
        #expect(expected.fields != nil)
        for variant in [base + "\r", base + "   ", base + "  \r", base + " "] {
            #expect(outcome(variant, format) == expected, "\(variant.debugDescription)")
        }
    }

    @Test("Three-digit statuses parse as written", arguments: ["000", "099", "200", "418", "599", "999"])
    func statuses(_ status: String) {
        #expect(outcome(combinedLine(status: status), .combined).fields?.status == UInt16(status))
    }
}
