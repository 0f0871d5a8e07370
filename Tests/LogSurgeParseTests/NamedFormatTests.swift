import LogSurgeParse
import Testing

/// The named formats that are not the four built-in layouts: json, caddy, alb, w3c.
@Suite("Named formats")
struct NamedFormatTests {
    static let json = LineFormat.named("json")!
    static let caddy = LineFormat.named("caddy")!
    static let w3c = LineFormat.named("w3c")!
    static let forwarded = HeaderRoles(forwarded: HeaderName("X-Forwarded-For"))

    @Test("JSON: usual key names in any order, numbers or strings, nested ECS keys, the last of duplicate keys")
    func json() {
        let expected = Fields(minute: "2016-11-09T02:31Z", status: 200, bytes: 512, client: "8.8.8.8", host: "visas.example", path: "/a")
        #expect(
            outcome(
                #"{"remote_addr":"8.8.8.8","time_iso8601":"2016-11-09T02:31:05+00:00","status":"200","body_bytes_sent":"512","host":"visas.example","request":"GET /a HTTP/1.1"}"#,
                Self.json) == .parsed(expected))
        #expect(
            outcome(
                #" { "host" : "visas.example" , "request_uri":"/a", "size":512, "status":200, "ts":1478658665.25, "client_ip":"8.8.8.8" } "#,
                Self.json) == .parsed(expected))
        #expect(
            outcome(
                #"{"@timestamp":"2016-11-09T02:31:05.123Z","client":{"ip":"8.8.8.8"},"http":{"response":{"status_code":200,"body":{"bytes":512}}},"url":{"path":"/a","domain":"visas.example"}}"#,
                Self.json) == .parsed(expected))
        #expect(
            outcome(
                #"{"http.response.status_code":200,"client.ip":"8.8.8.8","@timestamp":"2016-11-09T02:31:05Z","url.path":"/a","url.domain":"visas.example","http.response.body.bytes":512}"#,
                Self.json) == .parsed(expected))
        // Milliseconds as a number, duplicate keys (the last counts), unknown keys and nesting skipped.
        #expect(
            outcome(
                #"{"status":500,"status":200,"msec":1478658665123,"extra":{"a":[1,{"b":"}"}],"c":null},"ip":"8.8.8.8","bytes":null,"host":"visas.example","path":"/a"}"#,
                Self.json)
                == .parsed(Fields(minute: "2016-11-09T02:31Z", status: 200, bytes: 0, client: "8.8.8.8", host: "visas.example", path: "/a"))
        )
    }

    @Test("JSON and strftime times in every form: the years 0000-3999 parse, a time past them is bad_timestamp")
    func timesOutsideTheSupportedYears() throws {
        func json(_ time: String) -> Outcome { outcome(#"{"remote_addr":"8.8.8.8","time":\#(time),"status":200}"#, Self.json) }
        #expect(json(#""3999-12-31T23:59:59Z""#).fields?.minute == "3999-12-31T23:59Z")
        #expect(json(#""4000-01-01T00:30:00+01:00""#).fields?.minute == "3999-12-31T23:30Z")
        #expect(json(#""0000-01-01T00:00:00Z""#).fields?.minute == "0000-01-01T00:00Z")
        // 64,060,588,799 s is 3999-12-31T23:59:59Z.
        #expect(json("64060588799").fields?.minute == "3999-12-31T23:59Z")
        for time in [#""4000-01-01T00:00:00Z""#, #""0000-01-01T00:00:00+00:01""#, #""01/Jan/5000:00:00:00 +0000""#, "64060588800"] {
            #expect(json(time) == .malformed(.badTimestamp), "\(time)")
        }
        let pieces = try FormatStringTests.compiled(#"%h [%{%d/%m/%Y %H:%M:%S}t %{%z}t] \"%r\" %>s %b"#)
        #expect(outcome(#"1.2.3.4 [31/12/3999 23:59:00 +0000] "GET / HTTP/1.1" 200 1"#, pieces).fields?.minute == "3999-12-31T23:59Z")
        #expect(outcome(#"1.2.3.4 [31/12/3999 23:59:00 -0001] "GET / HTTP/1.1" 200 1"#, pieces) == .malformed(.badTimestamp))
        #expect(outcome(#"1.2.3.4 [01/01/6000 00:00:00 +0000] "GET / HTTP/1.1" 200 1"#, pieces) == .malformed(.badTimestamp))
        // Checked in UTC, as every other form: the local 4000 of a zone east of it is 3999.
        #expect(outcome(#"1.2.3.4 [01/01/4000 00:30:00 +0100] "GET / HTTP/1.1" 200 1"#, pieces).fields?.minute == "3999-12-31T23:30Z")
        #expect(outcome(#"1.2.3.4 [01/01/0000 00:30:00 +0100] "GET / HTTP/1.1" 200 1"#, pieces) == .malformed(.badTimestamp))
        let seconds = try FormatStringTests.compiled(#"%h %{sec}t \"%r\" %>s %b"#)
        #expect(outcome(#"1.2.3.4 64060588799 "GET / HTTP/1.1" 200 1"#, seconds).fields?.minute == "3999-12-31T23:59Z")
        #expect(outcome(#"1.2.3.4 64060588800 "GET / HTTP/1.1" 200 1"#, seconds) == .malformed(.badTimestamp))
    }

    @Test("an epoch number past Int64 (it trapped) is bad_timestamp in seconds, ms and µs; 19 digits in JSON are nanoseconds")
    func epochNumbersPastInt64() throws {
        // 9,223,372,036,854,775,808 is Int64.max + 1; 19 nines the most digits read.
        // In JSON, whose numbers' unit is decided by their size, 19 digits are nanoseconds: a time.
        let json = ["9223372036854775808": "2262-04-11T23:47Z", "9999999999999999999": "2286-11-20T17:46Z", "99999999999999999999": nil]
        for number in ["9223372036854775808", "9999999999999999999", "99999999999999999999"] {
            for time in [number, "\"\(number)\""] {
                let read = outcome(#"{"remote_addr":"8.8.8.8","time":\#(time),"status":200}"#, Self.json)
                #expect(json[number]!.map { read.fields?.minute == $0 } ?? (read == .malformed(.badTimestamp)), "\(time): \(read)")
            }
            for format in [
                #"$remote_addr $msec "$request" $status $body_bytes_sent"#, #"%h %{sec}t \"%r\" %>s %b"#, #"%h %{msec}t \"%r\" %>s %b"#,
                #"%h %{usec}t \"%r\" %>s %b"#, #"%h %{%s}t \"%r\" %>s %b"#,
            ] {
                let line = #"1.2.3.4 "# + number + #" "GET / HTTP/1.1" 200 1"#
                #expect(outcome(line, try FormatStringTests.compiled(format)) == .malformed(.badTimestamp), "\(format) \(number)")
            }
        }
        // Nanoseconds of 19 digits (2016) are a time.
        #expect(
            outcome(#"{"remote_addr":"8.8.8.8","time":1478658665123456789,"status":200}"#, Self.json).fields?.minute == "2016-11-09T02:31Z")
    }

    @Test("Apache's whole seconds then a dot and the fraction as fields of their own: %{sec}t.%{msec_frac}t, %{%s}t.%{usec_frac}t")
    func secondsThenTheirFraction() throws {
        for format in [#"%h %{sec}t.%{msec_frac}t \"%r\" %>s %b"#, #"%h %{%s}t.%{usec_frac}t \"%r\" %>s %b"#] {
            let compiled = try FormatStringTests.compiled(format)
            #expect(outcome(#"1.2.3.4 1478658665.123 "GET / HTTP/1.1" 200 1"#, compiled).fields?.minute == "2016-11-09T02:31Z", "\(format)")
        }
        // nginx's $msec carries its fraction in the one field, a dot after it in the format or not.
        let msec = try FormatStringTests.compiled(#"$remote_addr $msec "$request" $status $body_bytes_sent"#)
        #expect(outcome(#"1.2.3.4 1478658665.123 "GET / HTTP/1.1" 200 1"#, msec).fields?.minute == "2016-11-09T02:31Z")
        let msecDot = try FormatStringTests.compiled(#"$remote_addr [$msec.] "$request" $status $body_bytes_sent"#)
        #expect(outcome(#"1.2.3.4 [1478658665.123.] "GET / HTTP/1.1" 200 1"#, msecDot).fields?.minute == "2016-11-09T02:31Z")
    }

    @Test("JSON: an ISO time without an offset is read as UTC and marked")
    func jsonZoneless() {
        let zoneless = outcome(#"{"remote_addr":"8.8.8.8","time":"2016-11-09T02:31:05.5","status":200}"#, Self.json)
        #expect(zoneless == .parsed(Fields(minute: "2016-11-09T02:31Z", status: 200, bytes: 0, client: "8.8.8.8", zoneless: true)))
        for time in ["2016-11-09T02:31:05Z", "2016-11-09T02:31:05+00:00", "09/Nov/2016:02:31:05 +0000"] {
            #expect(outcome(#"{"remote_addr":"8.8.8.8","time":"\#(time)","status":200}"#, Self.json).fields?.zoneless == false, "\(time)")
        }
        // A client with its port (Traefik's ClientAddr, Caddy 2.4's remote_addr) is kept as written.
        #expect(
            outcome(#"{"ClientHost":"8.8.8.8:5678","time":"2016-11-09T02:31:05Z","status":200}"#, Self.json).fields?.client
                == "8.8.8.8:5678")
    }

    @Test(
        "JSON lines that are not requests: never bad_client",
        arguments: [
            (#"not json"#, MalformedReason.badFormat),
            (#"[1,2,3]"#, .badFormat),
            (#"{"remote_addr":"8.8.8.8","status":200}"#, .badTimestamp),
            (#"{"remote_addr":"8.8.8.8","time":"2016-11-09T02:31:05Z"}"#, .badStatus),
            (#"{"remote_addr":"8.8.8.8","time":"2016-11-09T02:31:05Z","status":"2000"}"#, .badStatus),
            (#"{"time":"2016-11-09T02:31:05Z","status":200}"#, .badFormat),
            (#"{"remote_addr":"8.8.8.8","time":"yesterday","status":200}"#, .badTimestamp),
            (#"{"remote_addr":"8.8.8.8","time":"2016-11-09T02:31:05Z","status":200,"size":"big"}"#, .badSize),
            (#"{"remote_addr":"8.8.8.8","time":"2016-11-09T02:31:05Z","status":200]"#, .badFormat),
            (#"{"remote_addr":"8.8.8.8","time":"2016-11-"#, .badFormat),
            (#"{"remote_addr":"8.8.8.8" "time":"2016-11-09T02:31:05Z","status":200}"#, .badFormat),
            ("", .empty),
        ])
    func jsonMalformed(_ line: String, _ reason: MalformedReason) {
        #expect(outcome(line, Self.json) == .malformed(reason))
    }

    @Test("JSON cut after the keys it needs counts, truncated; invalid UTF-8 and escapes are only bytes")
    func jsonTruncatedAndOdd() {
        let cut = outcome(#"{"remote_addr":"8.8.8.8","time":"2016-11-09T02:31:05Z","status":200,"agent":"Mozilla/5.0 (Win"#, Self.json)
        #expect(cut.fields?.truncated == true)
        #expect(outcome(#"{"remote_addr":"8.8.8.8","time":"2016-11-09T02:31:05Z","status":200"#, Self.json).fields?.truncated == true)
        var bytes = Array(#"{"remote_addr":"8.8.8.8","time":"2016-11-09T02:31:05Z","status":200,"agent":"\#u{FF}\#u{FE}\"x\\"}"#.utf8)
        bytes.insert(0xFF, at: 80)
        var parser = Self.json.parser()
        #expect(outcome(bytes, with: &parser).fields?.status == 200)
        // Nesting deeper than the limit is refused, not recursed into.
        let deep =
            #"{"remote_addr":"8.8.8.8","time":"2016-11-09T02:31:05Z","status":200,"x":"# + String(repeating: "[", count: 100)
            + String(repeating: "]", count: 100) + "}"
        #expect(outcome(deep, Self.json) == .malformed(.badFormat))
    }

    static let caddyLine =
        #"{"level":"info","ts":1478658665.5241024,"logger":"http.log.access.log0","msg":"handled request","request":{"remote_ip":"162.158.88.115","remote_port":"41342","client_ip":"162.158.88.115","proto":"HTTP/2.0","method":"GET","host":"visas.example","uri":"/apply?x=1","headers":{"User-Agent":["curl/7.82.0"],"X-Forwarded-For":["85.214.132.117, 10.0.0.2"],"Cf-Ipcountry":["DE"]},"tls":{"resumed":false,"version":772}},"bytes_read":0,"user_id":"","duration":0.000929675,"size":10900,"status":200,"resp_headers":{"Server":["Caddy"],"Content-Type":["text/html; charset=utf-8"]}}"#

    @Test("Caddy: the request object, its headers as arrays, ts in seconds")
    func caddy() {
        #expect(
            outcome(Self.caddyLine, Self.caddy)
                == .parsed(
                    Fields(
                        minute: "2016-11-09T02:31Z", status: 200, bytes: 10900,
                        client: "162.158.88.115", host: "visas.example", path: "/apply?x=1")))
        let bound = outcome(
            Self.caddyLine, Self.caddy, headers: HeaderRoles(forwarded: HeaderName("X-Forwarded-For"), country: HeaderName("CF-IPCountry")))
        #expect(bound.fields?.forwarded == "85.214.132.117, 10.0.0.2")
        #expect(bound.fields?.country == "DE")
        #expect(bound.fields?.client == "162.158.88.115")
        #expect(Self.detect([Self.caddyLine, Self.caddyLine])?.name == "caddy")
        // Caddy keeps the request's header names: a visitor's X_Forwarded_For (or X-FORWARDED_FOR)
        // is another header than the X-Forwarded-For the proxy set, in any case.
        for spoof in ["X_Forwarded_For", "X-Forwarded_For", "x_forwarded_for"] {
            for order in [0, 1] {
                let proxy = #""X-Forwarded-For":["85.214.132.117, 10.0.0.2"]"#, visitor = #""\#(spoof)":["8.8.8.8"]"#
                let headers = order == 0 ? proxy + "," + visitor : visitor + "," + proxy
                let line = Self.caddyLine.replacing(#""X-Forwarded-For":["85.214.132.117, 10.0.0.2"]"#, with: headers)
                #expect(
                    outcome(line, Self.caddy, headers: Self.forwarded).fields?.forwarded == "85.214.132.117, 10.0.0.2", "\(spoof) \(order)")
            }
        }
        let lower = Self.caddyLine.replacing("X-Forwarded-For", with: "x-forwarded-for")
        #expect(outcome(lower, Self.caddy, headers: Self.forwarded).fields?.forwarded == "85.214.132.117, 10.0.0.2")
    }

    static let albLine =
        #"https 2016-11-09T02:31:05.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "GET https://www.example.com:443/immigration?x HTTP/1.1" "curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337281-1d84f3d73c47ec4e58577259" "www.example.com" "arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012" 1 2016-11-09T02:31:04.364000Z "authenticate,forward" "-" "-" "10.0.0.1:80" "200" "-" "-""#

    @Test("ALB: client without its port, the site and path from the request's URL")
    func alb() {
        #expect(
            outcome(Self.albLine, .alb)
                == .parsed(
                    Fields(
                        minute: "2016-11-09T02:31Z", status: 200, bytes: 57, client: "192.168.131.39",
                        host: "www.example.com", path: "/immigration?x")))
        let v6 = Self.albLine.replacing("192.168.131.39:2817", with: "2001:db8::7:2817")
        #expect(outcome(v6, .alb).fields?.client == "2001:db8::7")
        #expect(Self.detect([Self.albLine])?.name == "alb")
    }

    static let iis = [
        "#Software: Microsoft Internet Information Services 10.0",
        "#Version: 1.0",
        "#Date: 2016-11-09 02:30:00",
        "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken",
        "2016-11-09 02:31:05 10.0.0.4 GET /immigration/apply - 443 - 203.0.113.9 Mozilla/5.0+(Windows+NT+10.0) - 200 0 0 15",
        "#Fields: date time c-ip cs(Host) sc-status sc-bytes cs-uri-stem X-Forwarded-For",
        "2016-11-09 02:32:59 10.0.0.9 visas.example 503 1234 /apply 85.214.132.117,+10.0.0.9",
    ]

    @Test("W3C: directives are not lines, a #Fields: line mid-file changes the columns")
    func w3c() {
        let results = outcomes(Self.iis, Self.w3c, headers: Self.forwarded)
        #expect(results[..<4].allSatisfy { $0 == .directive })
        #expect(
            results[4]
                == .parsed(Fields(minute: "2016-11-09T02:31Z", status: 200, bytes: 0, client: "203.0.113.9", path: "/immigration/apply")))
        #expect(results[5] == .directive)
        #expect(
            results[6]
                == .parsed(
                    Fields(
                        minute: "2016-11-09T02:32Z", status: 503, bytes: 1234, client: "10.0.0.9", host: "visas.example",
                        path: "/apply", forwarded: "85.214.132.117,+10.0.0.9")))
        // Data before any #Fields: has no columns.
        #expect(outcome(Self.iis[4], Self.w3c) == .malformed(.badFormat))
        #expect(Self.detect(Self.iis)?.name == "w3c")
    }

    static let cloudfront = [
        "#Version: 1.0",
        "#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end",
        "2016-11-09\t02:31:05\tSEA19-C1\t2390\t192.0.2.200\tGET\td111111abcdef8.cloudfront.net\t/index.html\t200\t-\tMozilla/5.0%20(Windows)\t-\t-\tHit\tSOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==\twww.example.com\thttps\t163\t0.001\t-\tTLSv1.2\tECDHE-RSA-AES128-GCM-SHA256\tHit\tHTTP/2.0\t-\t-\t11040\t0.001\tHit\ttext/html\t78\t-\t-",
    ]

    @Test("CloudFront standard logs: tab-separated, the site from x-host-header")
    func cloudFront() {
        let results = outcomes(Self.cloudfront, Self.w3c)
        #expect(
            results[2]
                == .parsed(
                    Fields(
                        minute: "2016-11-09T02:31Z", status: 200, bytes: 2390, client: "192.0.2.200",
                        host: "www.example.com", path: "/index.html")))
        #expect(Self.detect(Self.cloudfront)?.name == "w3c")
    }

    @Test("Each named format's lines are detected as that format")
    func detection() {
        let main = #"1.2.3.4 - - [09/Nov/2016:02:31:05 +0000] "GET / HTTP/1.1" 200 5 "-" "curl" "-""#
        #expect(Self.detect([main, main])?.name == "main")
        #expect(Self.detect([combinedLine(), combinedLine()])?.name == "combined")
        #expect(Self.detect([#"{"remote_addr":"8.8.8.8","time":"2016-11-09T02:31:05Z","status":200}"#])?.name == "json")
        #expect(Self.detect(["garbage", "more garbage"]) == nil)
        // A log of W3C headers only (IIS writes them at every start) is W3C.
        #expect(Self.detect(Array(Self.iis[..<4]))?.name == "w3c")
        // A chain where a client stands is never a combined client: `a,b` is xff_combined's.
        let chained = #"85.214.132.117,162.158.88.115 - - [09/Nov/2016:02:31:05 +0000] "GET / HTTP/1.1" 200 5 "-" "curl""#
        #expect(outcome(chained, .combined) == .malformed(.badClient))
        #expect(Self.detect([chained, combinedLine()])?.name == "xff_combined")
        // Bytes no server writes bare (NUL, other controls) are not a chain either: a main log
        // with such a line stays main.
        for junk in ["\u{0}", "\u{1}", "\u{7F}"] {
            let odd = junk + #"1.2.3.4 - - [09/Nov/2016:02:31:05 +0000] "GET / HTTP/1.1" 200 5 "-" "curl" "-""#
            #expect(outcome(odd, .xffCombined) == .malformed(.badClient), "\(junk.unicodeScalars.first!.value)")
            #expect(Self.detect([main, odd, odd])?.name == "main")
        }
    }

    static func detect(_ lines: [String]) -> LineFormat? {
        let buffers = lines.map { Array($0.utf8) }
        var pointers: [UnsafeRawBufferPointer] = []
        func collect(_ index: Int) -> LineFormat? {
            if index == buffers.count { return LineFormat.detect(pointers) }
            return buffers[index].withUnsafeBytes { raw in
                pointers.append(raw)
                return collect(index + 1)
            }
        }
        return collect(0)
    }
}
