import LogSurgeParse
import Testing

/// Format strings as servers are configured with them, compiled into templates.
@Suite("Format strings")
struct FormatStringTests {
    static func compiled(_ string: String, realIP: String? = nil) throws -> LineFormat {
        try LineFormat.compile(string, clientHeaders: realIP.map { [HeaderName($0).normalized] } ?? [])
    }

    static let apacheCombined = #"%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\""#
    static let nginxCombined =
        #"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent""#

    /// Lines the built-in combined parser reads one way or another.
    static let combinedLines: [String] = [
        combinedLine(),
        combinedLine(client: "2001:db8::1", request: #"GET /a\"b HTTP/1.1"#, agent: #"x \\"#),
        combinedLine(size: "-", referer: "-", agent: "-"),
        combinedLine(time: "31/Dec/2016:23:59:59 -1200", status: "503", size: "18446744073709551615"),
        combinedLine(request: "\\x16\\x03\\x01", status: "400"),
        combinedLine(request: "-"),
        combinedLine(user: #""a b""#),
        combinedLine() + " \"8.8.8.8, 10.0.0.1\" trailing",
        commonLine() + " \"-\" \"cut agent",
        commonLine() + " \"cut referer",
        commonLine(),
        combinedLine(status: "20x"),
        combinedLine(size: "12a"),
        combinedLine(time: "31/Feb/2016:00:00:00 +0000"),
        "   ",
        "",
        #"{"time":"2016-11-09T02:31:05+00:00","status":200}"#,
        "PHP Warning:  session_start(): failed",
        "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0 200 5",
    ]

    @Test(
        "Apache's and nginx's combined strings read every line as the built-in combined parser does",
        arguments: [apacheCombined, nginxCombined])
    func combinedAsBuiltIn(_ string: String) throws {
        let format = try Self.compiled(string)
        for line in Self.combinedLines {
            let builtIn = outcome(line, .combined)
            let compiled = outcome(line, format)
            // The same fields when either parses; both malformed otherwise (the reasons may differ).
            if builtIn.fields != nil || compiled.fields != nil {
                #expect(compiled == builtIn, "\(line)")
            }
        }
    }

    @Test("The dialect is recognised from the string")
    func dialects() {
        #expect(FormatString.dialect(of: Self.apacheCombined) == .apache)
        #expect(FormatString.dialect(of: Self.nginxCombined) == .nginx)
        #expect(FormatString.dialect(of: "escape=json '{\"t\":\"$msec\"}'") == .nginx)
        #expect(FormatString.dialect(of: "plain text") == nil)
    }

    @Test("nginx main: the forwarded chain is read, and --real-ip binds it")
    func nginxMain() throws {
        let line =
            #"203.0.113.9 - - [09/Nov/2016:02:31:05 +0000] "GET /a HTTP/1.1" 200 512 "-" "Mozilla/5.0" "85.214.132.117, 162.158.88.115""#
        let bound = outcome(line, .main, headers: HeaderRoles(forwarded: HeaderName("X-Forwarded-For")))
        #expect(bound.fields?.forwarded == "85.214.132.117, 162.158.88.115")
        #expect(bound.fields?.client == "203.0.113.9")
        // Without --real-ip the header is an opaque field.
        #expect(outcome(line, .main).fields?.forwarded == nil)
        // `-` is no chain at all.
        let dash = outcome(
            #"203.0.113.9 - - [09/Nov/2016:02:31:05 +0000] "GET /a HTTP/1.1" 200 512 "-" "Mozilla/5.0" "-""#, .main,
            headers: HeaderRoles(forwarded: HeaderName("X-Forwarded-For")))
        #expect(dash.fields != nil && dash.fields?.forwarded == nil)
    }

    @Test("nginx with $time_iso8601 and $request_time between the fields")
    func isoAndRequestTime() throws {
        let format = try Self.compiled(
            #"$remote_addr [$time_iso8601] $request_time "$request" $status $body_bytes_sent $upstream_response_time"#)
        let line = #"192.0.2.7 [2016-11-09T02:31:59-05:00] 0.003 "GET /visa HTTP/2.0" 302 0 0.010, 0.002 : 0.001"#
        #expect(
            outcome(line, format) == .parsed(Fields(minute: "2016-11-09T07:31Z", status: 302, bytes: 0, client: "192.0.2.7", path: "/visa"))
        )
        #expect(outcome(#"192.0.2.7 [2016-11-09T02:31:59Z] 0.003 "GET / HTTP/1.1" 200 5 -"#, format).fields?.minute == "2016-11-09T02:31Z")
        #expect(outcome(#"192.0.2.7 [2016-13-09T02:31:59Z] 0.003 "GET / HTTP/1.1" 200 5 -"#, format) == .malformed(.badTimestamp))
    }

    @Test("nginx $msec, ${braced} variables, and configuration-style quoted parts with escape=default")
    func nginxConfigurationStyle() throws {
        let format = try Self.compiled(#"log_format timed escape=default '${remote_addr} $msec ' '"$request" $status ' '$bytes_sent';"#)
        #expect(
            outcome(#"8.8.8.8 1478658665.123 "GET / HTTP/1.1" 200 612"#, format)
                == .parsed(Fields(minute: "2016-11-09T02:31Z", status: 200, bytes: 612, client: "8.8.8.8", path: "/")))
    }

    @Test("A vhost-first nginx format: the site is $host without its port")
    func vhostFirst() throws {
        let format = try Self.compiled(#"$host:$server_port $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent"#)
        let fields = outcome(#"www.example.com:443 2001:db8::7 - - [09/Nov/2016:02:31:05 +0000] "GET / HTTP/1.1" 200 1"#, format).fields
        #expect(fields?.host == "www.example.com")
        #expect(fields?.client == "2001:db8::7")
    }

    @Test("Apache %{X-Forwarded-For}i first: the chain is the client, and never a virtual host")
    func apacheForwardedFirst() throws {
        #expect(throws: FormatError.self) { try Self.compiled(#"%{X-Forwarded-For}i %l %u %t \"%r\" %>s %b"#) }
        let format = try Self.compiled(
            #"%{X-Forwarded-For}i %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\""#, realIP: "X-Forwarded-For")
        let line = #"85.214.132.117, 162.158.88.115 - - [09/Nov/2016:02:31:05 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8""#
        let fields = outcome(line, format, headers: HeaderRoles(forwarded: HeaderName("X-Forwarded-For"))).fields
        #expect(fields?.client == nil)
        #expect(fields?.forwarded == "85.214.132.117, 162.158.88.115")
        // The built-in vhost formats refuse a chain as a host; the named xff_combined reads it.
        #expect(outcome(line, .vhostCombined) == .malformed(.badFormat))
        #expect(outcome(line, .xffCombined).fields?.forwarded == "85.214.132.117, 162.158.88.115")
        let lines = [line, line.replacingOccurrences(of: "85.214.132.117, ", with: "")].map { Array($0.utf8) }
        let detected = lines[0].withUnsafeBytes { a in lines[1].withUnsafeBytes { b in LineFormat.detect([a, b, a]) } }
        #expect(detected?.name == "xff_combined")
    }

    @Test("Apache with %D and %{Host}i, and %v that outranks it")
    func apacheHostAndDuration() throws {
        let format = try Self.compiled(#"%{Host}i %a %l %u %t \"%r\" %>s %B %D \"%{User-Agent}i\""#)
        let line =
            #"visas.example:8443 198.51.100.4 - - [09/Nov/2016:02:31:05 -0500] "POST /apply HTTP/1.1" 201 77 12345 "Mozilla/5.0 (X11)""#
        #expect(
            outcome(line, format)
                == .parsed(
                    Fields(
                        minute: "2016-11-09T07:31Z", status: 201, bytes: 77, client: "198.51.100.4",
                        host: "visas.example", path: "/apply")))
        let both = try Self.compiled(#"%v %{Host}i %h %l %u %t \"%r\" %>s %b"#)
        #expect(
            outcome(#"canonical.example asked.example 1.2.3.4 - - [09/Nov/2016:02:31:05 +0000] "GET / HTTP/1.1" 200 1"#, both).fields?.host
                == "canonical.example")
    }

    @Test("Apache strftime times, in pieces across directives, and sec/msec/usec")
    func apacheTimes() throws {
        let pieces = try Self.compiled(#"%h %{%d/%b/%Y %T}t.%{msec_frac}t %{%z}t \"%r\" %>s %b"#)
        #expect(outcome(#"1.2.3.4 09/Nov/2016 02:31:05.123 -0500 "GET / HTTP/1.1" 200 1"#, pieces).fields?.minute == "2016-11-09T07:31Z")
        #expect(pieces.timeWithoutZone == false)
        let zoneless = try Self.compiled(#"%h [%{%Y-%m-%d %H:%M:%S}t] \"%r\" %>s %b"#)
        #expect(outcome(#"1.2.3.4 [2016-11-09 02:31:05] "GET / HTTP/1.1" 200 1"#, zoneless).fields?.minute == "2016-11-09T02:31Z")
        #expect(zoneless.timeWithoutZone)
        let twelve = try Self.compiled(#"%h [%{%m/%d/%y %I:%M %p}t] \"%r\" %>s %b"#)
        #expect(outcome(#"1.2.3.4 [11/09/16 12:05 AM] "GET / HTTP/1.1" 200 1"#, twelve).fields?.minute == "2016-11-09T00:05Z")
        #expect(outcome(#"1.2.3.4 [11/09/16 01:05 PM] "GET / HTTP/1.1" 200 1"#, twelve).fields?.minute == "2016-11-09T13:05Z")
        for (directive, value) in [
            ("%{sec}t", "1478658665"), ("%{msec}t", "1478658665123"), ("%{usec}t", "1478658665123456"), ("%{end:sec}t", "1478658665"),
        ] {
            let format = try Self.compiled(#"%h "# + directive + #" \"%r\" %>s %b"#)
            #expect(
                outcome(#"1.2.3.4 "# + value + #" "GET / HTTP/1.1" 200 1"#, format).fields?.minute == "2016-11-09T02:31Z", "\(directive)")
        }
        #expect(throws: FormatError.self) { try Self.compiled(#"%h %{%I:%M}t %{%F}t \"%r\" %>s %b"#) }
        // GNU's unpadded conversions write one digit where they can.
        let unpadded = try Self.compiled(#"%h [%{%-d/%-m/%Y %-H:%M:%S %z}t] \"%r\" %>s %b"#)
        #expect(outcome(#"1.2.3.4 [9/11/2016 2:31:05 +0000] "GET / HTTP/1.1" 200 1"#, unpadded).fields?.minute == "2016-11-09T02:31Z")
        #expect(outcome(#"1.2.3.4 [19/11/2016 12:31:05 +0000] "GET / HTTP/1.1" 200 1"#, unpadded).fields?.minute == "2016-11-19T12:31Z")
        #expect(outcome(#"1.2.3.4 [/11/2016 2:31:05 +0000] "GET / HTTP/1.1" 200 1"#, unpadded) == .malformed(.badTimestamp))
    }

    @Test("An nginx escape=json template that is a JSON object is read as JSON, keys in any order")
    func nginxJSONTemplate() throws {
        let format = try Self.compiled(
            #"escape=json '{"ts":"$time_iso8601","client":"$remote_addr","req":"$request","code":$status,"bytes":$body_bytes_sent,"xff":"$http_x_forwarded_for","host":"$host"}'"#
        )
        guard case .json = format.body else {
            Issue.record("not read as JSON: \(format.body)")
            return
        }
        let line =
            #"{"host":"visas.example","code":200,"ts":"2016-11-09T02:31:05+00:00","bytes":512,"req":"GET /a?b HTTP/1.1","client":"8.8.8.8","xff":"1.1.1.1"}"#
        #expect(
            outcome(line, format, headers: HeaderRoles(forwarded: HeaderName("X-Forwarded-For")))
                == .parsed(
                    Fields(
                        minute: "2016-11-09T02:31Z", status: 200, bytes: 512, client: "8.8.8.8", host: "visas.example",
                        path: "/a?b", forwarded: "1.1.1.1")))
    }

    @Test(
        "Strings that cannot be read safely are usage errors naming the part",
        arguments: [
            (#"$remote_addr $request $status $time_local"#, "$request"),
            (#"$remote_addr$remote_user [$time_local] "$request" $status"#, "$remote_addr"),
            (#"$remote_addr [$time_local] "$request""#, "status"),
            (#"$remote_addr "$request" $status"#, "time"),
            (#"[$time_local] "$request" $status"#, "client"),
            (#"%h %l %u %t %r %>s %b"#, "%r"),
            (#"%h %t \"%r\" %>s %b \"%{User-Agent}i\" %{User-Agent}i %D"#, "%{User-Agent}i"),
            (#"escape=xml $remote_addr [$time_local] "$request" $status"#, "escape"),
            (#"%h %{%Q}t \"%r\" %>s"#, "%Q"),
            (#"no variables here"#, "neither"),
        ])
    func unsafeStrings(_ string: String, _ named: String) {
        do {
            _ = try Self.compiled(string)
            Issue.record("compiled: \(string)")
        } catch {
            #expect("\(error)".contains(named), "\(error)")
        }
    }

    @Test("Truncated lines count once everything used was read")
    func truncated() throws {
        let cut = #"203.0.113.9 - - [09/Nov/2016:02:31:05 +0000] "GET / HTTP/1.1" 200 512 "-" "Mozilla/5.0 (Windows"#
        #expect(outcome(cut, .main).fields?.truncated == true)
        #expect(outcome(#"203.0.113.9 - - [09/Nov/2016:02:31:05 +0000] "GET / HTTP/1.1"#, .main) == .malformed(.badRequest))
        // A quote that closes the field, then something else: another layout, not a cut line.
        #expect(
            outcome(#"203.0.113.9 - - [09/Nov/2016:02:31:05 +0000] "GET / HTTP/1.1" 200 512 "-" "Mozilla""#, .main)
                == .malformed(.badFormat))
    }

    @Test("Configurations: nginx log_format over several lines, Apache LogFormat by nickname")
    func configurations() throws {
        let nginx = """
            http {
                # the default
                log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                                  '$status $body_bytes_sent "$http_referer" '
                                  '"$http_user_agent" "$http_x_forwarded_for"';
                log_format json escape=json '{"t":"$msec","ip":"$remote_addr","s":$status}';
                access_log  /var/log/nginx/access.log  main;
            }
            """
        let main = try FormatConfiguration.formatString(in: nginx, named: nil, file: "nginx.conf")
        let compiled = try Self.compiled(main)
        let line = #"1.2.3.4 - - [09/Nov/2016:02:31:05 +0000] "GET / HTTP/1.1" 200 5 "-" "curl" "-""#
        #expect(outcome(line, compiled) == outcome(line, .main))
        let json = try Self.compiled(try FormatConfiguration.formatString(in: nginx, named: "json", file: "nginx.conf"))
        #expect(outcome(#"{"t":"1478658665.500","ip":"1.2.3.4","s":404}"#, json).fields?.status == 404)
        #expect(try FormatConfiguration.formatString(in: nginx, named: "combined", file: "nginx.conf").contains("$time_local"))
        #expect(throws: FormatError.self) { try FormatConfiguration.formatString(in: nginx, named: "other", file: "nginx.conf") }

        let apache = #"""
            LogFormat "%v:%p %h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\"" vhost_combined
            LogFormat "%h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\"" combined
            LogFormat "%{X-Forwarded-For}i %l %u %t \"%r\" %>s %b \
                \"%{Referer}i\" \"%{User-Agent}i\"" proxy
            """#
        let combined = try Self.compiled(try FormatConfiguration.formatString(in: apache, named: nil, file: "apache2.conf"))
        #expect(outcome(combinedLine(), combined) == outcome(combinedLine(), .combined))
        let proxy = try FormatConfiguration.formatString(in: apache, named: "proxy", file: "apache2.conf")
        #expect(try Self.compiled(proxy, realIP: "X-Forwarded-For").loggedHeaders?.contains("x_forwarded_for") == true)
        // Apache takes the nickname quoted too.
        let quoted = #"LogFormat "%h %l %u %t \"%r\" %>s %b" "quoted""#
        #expect(try FormatConfiguration.formatString(in: quoted, named: "quoted", file: "apache2.conf").contains("%>s"))
    }
}

extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        replacing(target, with: replacement)
    }
}
