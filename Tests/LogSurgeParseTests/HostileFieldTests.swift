import LogSurgeParse
import Testing

/// Fields a visitor controls, written the way servers write them: a user name from any
/// `Authorization: Basic` header, an `X-Forwarded-For` with spaces, very long escaped headers;
/// and the forms real servers write that the first readings missed. Each case was a request
/// lost or misread.
@Suite("Visitor-controlled fields")
struct HostileFieldTests {
    static let expected = Fields(minute: "2024-10-10T13:55Z", status: 200, bytes: 5, client: "77.88.8.8", path: "/")

    @Test("nginx's $remote_user holds spaces and brackets: the user runs to the ' [' of a valid time")
    func userWithSpaces() throws {
        for user in ["a b", "- [x]", "a [b] c", "[10/Oct/2024:13:55:36 +0000]x"] {
            let line = #"77.88.8.8 - \#(user) [10/Oct/2024:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8.5.0""#
            #expect(outcome(line, .combined) == .parsed(Self.expected), "\(user)")
            #expect(outcome(line, LineFormat.combined).fields?.client == "77.88.8.8", "\(user)")
            // nginx main reads its common-log prefix with the same scanner.
            #expect(outcome(line + #" "-""#, LineFormat.main).fields?.client == "77.88.8.8", "\(user)")
            // A compiled template with an opaque user field too.
            let template = try FormatStringTests.compiled(
                #"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_user_agent""#)
            let short = #"77.88.8.8 - \#(user) [10/Oct/2024:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "curl/8.5.0""#
            #expect(outcome(short, template).fields?.client == "77.88.8.8", "\(user)")
        }
        // Not after an ident other than `-`: a vhost_combined line stays out of combined.
        let vhost = #"www.example.com 127.0.0.1 - - [10/Oct/2024:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "curl""#
        #expect(outcome(vhost, .combined) == .malformed(.badFormat))
        // A user with spaces and no valid time after it is still malformed.
        #expect(outcome(#"77.88.8.8 - a b [yesterday] "GET / HTTP/1.1" 200 5 "-" "x""#, .combined) == .malformed(.badFormat))
        // Lines that open with such requests do not tip detection to vhost_combined.
        let attack = #"77.88.8.8 - a b [10/Oct/2024:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "curl""#
        #expect(NamedFormatTests.detect(Array(repeating: attack, count: 150) + [combinedLine()])?.name == "combined")
    }

    @Test("A client before a literal of another printable byte: [$remote_addr], |, ;, /")
    func clientBeforeOtherLiterals() throws {
        let cases = [
            (#"[$remote_addr] $time_local $status $body_bytes_sent"#, "[77.88.8.8] 10/Oct/2024:13:55:36 +0000 200 5"),
            (#"$remote_addr|$time_local|$status|$body_bytes_sent"#, "77.88.8.8|10/Oct/2024:13:55:36 +0000|200|5"),
            (
                #"client=$remote_addr;time=$time_iso8601;status=$status;size=$body_bytes_sent"#,
                "client=77.88.8.8;time=2024-10-10T13:55:36+00:00;status=200;size=5"
            ),
            (#"$time_iso8601;$remote_addr;$status;$body_bytes_sent"#, "2024-10-10T13:55:36+00:00;77.88.8.8;200;5"),
            (#"$remote_addr/$time_local/$status/$body_bytes_sent"#, "77.88.8.8/10/Oct/2024:13:55:36 +0000/200/5"),
            (#"[%a] %t %>s %b"#, "[77.88.8.8] [10/Oct/2024:13:55:36 +0000] 200 5"),
        ]
        for (string, line) in cases {
            let format = try FormatStringTests.compiled(string)
            #expect(
                outcome(line, format) == .parsed(Fields(minute: "2024-10-10T13:55Z", status: 200, bytes: 5, client: "77.88.8.8")),
                "\(string)")
        }
        // The literal must still follow: a client with a space before it is not one.
        let bracketed = try FormatStringTests.compiled(#"[$remote_addr] $time_local $status $body_bytes_sent"#)
        #expect(outcome("[77.88 .8.8] 10/Oct/2024:13:55:36 +0000 200 5", bracketed) == .malformed(.badClient))
    }

    @Test("xff_combined: a visitor's X-Forwarded-For with spaces does not hide the request or choose the client")
    func spacedChain() {
        let line = #"1.2.3.4 5.6.7.8, 77.88.8.8 - - [10/Oct/2024:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "curl""#
        #expect(outcome(line, .xffCombined).fields?.forwarded == "1.2.3.4 5.6.7.8, 77.88.8.8")
        // A forged line inside the header (Apache escapes its quotes) is not read as the request.
        let forged =
            #"1.2.3.4 - - [10/Oct/2024:13:55:36 +0000] \"GET / HTTP/1.1\" 200 5, 77.88.8.8 - - [10/Oct/2024:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "curl""#
        #expect(outcome(forged, .xffCombined).fields?.forwarded != "1.2.3.4")
    }

    @Test("strftime pieces out of range are bad times, never another day")
    func piecesOutOfRange() throws {
        let format = try FormatStringTests.compiled(#"%h [%{%Y-%m-%d %H:%M:%S %z}t] %>s %b"#)
        #expect(outcome("77.88.8.8 [2024-01-05 10:00:00 +0000] 200 5", format).fields?.minute == "2024-01-05T10:00Z")
        for bad in ["2024-01-69 10:00:00 +0000", "2024-17-05 10:00:00 +0000", "2024-01-05 10:61:00 +0000", "2024-01-05 10:00:00 +9959"] {
            #expect(outcome("77.88.8.8 [\(bad)] 200 5", format) == .malformed(.badTimestamp), "\(bad)")
        }
    }

    @Test("JSON: Caddy's other time formats and versions, numbers with a zero fraction, Traefik's request headers")
    func jsonForms() {
        let caddy = LineFormat.named("caddy")!
        func caddyLine(_ ts: String, request: String = #""remote_ip":"77.88.8.8","host":"example.com","uri":"/""#) -> String {
            #"{"level":"info","ts":\#(ts),"msg":"handled request","request":{\#(request)},"size":5,"status":200}"#
        }
        let expected = Fields(minute: "2024-10-10T13:55Z", status: 200, bytes: 5, client: "77.88.8.8", host: "example.com", path: "/")
        for ts in ["1728568536.5241024", "1728568536524.123", "1728568536524123", "1728568536524123456", #""2024-10-10T13:55:36.524Z""#] {
            #expect(outcome(caddyLine(ts), caddy) == .parsed(expected), "\(ts)")
        }
        var zoneless = expected
        zoneless.zoneless = true
        #expect(outcome(caddyLine(#""2024/10/10 13:55:36.524""#), caddy) == .parsed(zoneless))
        // Caddy 2.4 and before: `remote_addr` with the port.
        let old = outcome(caddyLine("1728568536.5", request: #""remote_addr":"77.88.8.8:41342","host":"example.com","uri":"/""#), caddy)
        #expect(old.fields?.client == "77.88.8.8:41342")
        let json = LineFormat.named("json")!
        #expect(
            outcome(#"{"time":"2024-10-10T13:55:36Z","remote_addr":"77.88.8.8","status":200.0,"body_bytes_sent":5.00}"#, json)
                == .parsed(Fields(minute: "2024-10-10T13:55Z", status: 200, bytes: 5, client: "77.88.8.8")))
        #expect(outcome(#"{"time":"2024-10-10T13:55:36Z","remote_addr":"77.88.8.8","status":200.5}"#, json) == .malformed(.badStatus))
        let traefik =
            #"{"ClientHost":"10.0.0.1","DownstreamStatus":200,"StartUTC":"2024-10-10T13:55:36.123Z","request_X-Forwarded-For":"77.88.8.8"}"#
        #expect(outcome(traefik, json, headers: NamedFormatTests.forwarded).fields?.forwarded == "77.88.8.8")
    }

    @Test("nginx main: its last field, found from the line's end, at every length and with quotes before it")
    func mainLastField() {
        let headers = HeaderRoles(forwarded: HeaderName("X-Forwarded-For"))
        for length in 1...70 {
            let chain = String("81.2.69.142, 10.0.0.1, 172.16.0.9, 192.168.1.1, 100.64.0.1, 127.0.0.1, 8.8.8.8".prefix(length))
            for agent in ["curl", #"a "quoted" agent"#, String(repeating: "x", count: length)] {
                let line = #"77.88.8.8 - - [10/Oct/2024:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "\#(agent)" "\#(chain)""#
                let expected = chain == "-" ? nil : chain
                #expect(outcome(line, LineFormat.main, headers: headers).fields?.forwarded == expected, "\(length) \(agent)")
            }
        }
    }

    @Test("Lines past 64 KiB (escaped headers: \\xHH is four bytes for one) are read up to 1 MiB")
    func longLines() {
        let agent = String(repeating: #"\x01"#, count: 30_000)
        let line = #"77.88.8.8 - - [10/Oct/2024:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "\#(agent)""#
        #expect(line.utf8.count > 64 << 10)
        #expect(outcome(line, .combined) == .parsed(Self.expected))
    }
}
