import Foundation
import LogSurgeGenerate
import LogSurgePipelineTestSupport
import Testing

/// The formats, real clients and countries of the contract, on the built executable: exit
/// statuses, messages and warnings.
@Suite(.tags(.launchesBinary), .enabled(if: Support.executable != nil, "the logsurge executable is not built"))
struct FormatCLITests {
    static func file(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = Support.temporaryDirectory().appendingPathComponent(name).path
        try Support.writeFile(path, Data(bytes))
        return path
    }

    static func generated(_ format: String, proxy: ProxySetup = .none, minutes: Int = 30) throws -> String {
        let layout = GeneratedLayout.named.first { $0.name == format }!.layout
        return try file(
            "\(format).log", Support.generatedLog(minutes: minutes, rate: 60, seed: 3, malformedRate: 0, layout: layout, proxy: proxy))
    }

    static func summary(_ result: Support.RunResult) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] ?? [:]
    }

    @Test("An input none of whose lines parse is an input error naming the format tried and the one that fits")
    func nothingParsed() throws {
        let json = try Self.generated("json")
        let result = try Support.run(["--format", "combined", "--quiet", "--summary", "-", json])
        #expect(result.status == 1)
        #expect(
            result.stderr.contains(json) && result.stderr.contains("parsed as combined") && result.stderr.contains("use --format json"),
            "\(result.stderr)")
        // Everything was still counted and written: the lines, each under a reason that is not bad_client.
        let summary = try Self.summary(result)
        #expect((summary["parsed"] as? Int) == 0)
        #expect(((summary["malformed"] as? [String: Int])?["bad_client"]) == 0)
        #expect(((summary["input_errors"] as? [[String: Any]])?.first?["path"] as? String) == json)

        let garbage = try Self.file("garbage.log", Array("hello world\nnot a log line\n".utf8))
        let auto = try Support.run(["--quiet", garbage])
        #expect(auto.status == 1)
        #expect(auto.stderr.contains("no format logsurge knows") && auto.stderr.contains("--log-format"), "\(auto.stderr)")
        // Standard input too.
        let piped = try Support.run(["--quiet"], stdin: Array("hello world\n".utf8))
        #expect(piped.status == 1)
    }

    @Test("A directory without an access log is an input error")
    func emptyDirectory() throws {
        let directory = Support.temporaryDirectory().appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Support.writeFile(directory.appendingPathComponent("error.log").path, Data("x\n".utf8))
        let result = try Support.run(["--quiet", directory.path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("no access log"))
    }

    @Test("Every named format is read by itself, exit 0", arguments: ["main", "json", "caddy", "alb", "w3c", "cloudfront", "xff_combined"])
    func namedFormats(_ name: String) throws {
        let path = try Self.generated(name, proxy: name == "xff_combined" ? .balancer : .none)
        let result = try Support.run(["--quiet", "--summary", "-", path])
        #expect(result.status == 0, "\(result.stderr)")
        let summary = try Self.summary(result)
        #expect((summary["parsed"] as? Int) == (summary["lines"] as? Int))
        let inputs = summary["inputs"] as? [[String: Any]]
        #expect(inputs?.first?["format"] as? String == (name == "cloudfront" ? "w3c" : name))
    }

    @Test(
        "Format strings and options that cannot work are usage errors (2) naming what is wrong",
        arguments: [
            (["--log-format", "$remote_addr $request $status $time_local"], "$request"),
            (["--log-format", "$remote_addr [$time_local] \"$request\""], "status"),
            (["--log-format", "%{X-Forwarded-For}i %l %u %t \"%r\" %>s %b"], "--real-ip"),
            (["--format", "json", "--log-format", "$remote_addr"], "give one"),
            (["--format", "nginx-json"], "unknown format"),
            (["--trusted-proxy", "10.0.0.0/8"], "--real-ip"),
            (["--real-ip", "X-Forwarded-For", "--trusted-proxy", "akamai"], "akamai"),
            (["--real-ip", "X-Forwarded-For", "--trusted-proxy", "10.0.0.0/33"], "10.0.0.0/33"),
            (["--real-ip", "X-Forwarded-For:"], "not a header name"),
            (["--json-field", "colour=blue"], "unknown role"),
            (["--format", "combined", "--json-field", "time=ts"], "JSON"),
            (["--log-format-from", "/nonexistent/nginx.conf"], "cannot read"),
        ])
    func usageErrors(_ arguments: [String], _ named: String) throws {
        let result = try Support.run(arguments + ["--quiet"], stdin: Array("garbage\n".utf8))
        #expect(result.status == 2, "\(arguments): \(result.stderr)")
        #expect(result.stderr.contains(named), "\(arguments): \(result.stderr)")
    }

    @Test("--log-format-from reads nginx and Apache configurations, by name")
    func fromConfiguration() throws {
        let log = try Self.generated("main", proxy: .cdn)
        let nginx = try Self.file(
            "nginx.conf",
            Array(
                """
                http {
                    log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                                      '$status $body_bytes_sent "$http_referer" '
                                      '"$http_user_agent" "$http_x_forwarded_for"';
                    access_log /var/log/nginx/access.log main;
                }
                """.utf8))
        for configuration in [nginx, nginx + ":main"] {
            let result = try Support.run([
                "--log-format-from", configuration, "--real-ip", "X-Forwarded-For", "--quiet", "--summary", "-", log,
            ])
            #expect(result.status == 0, "\(result.stderr)")
            let clients = try Self.summary(result)["clients"] as? [String: Int]
            #expect(clients?["forwarded"] ?? 0 > 0 && clients?["connecting"] == 0)
        }
        let missing = try Support.run(["--log-format-from", nginx + ":json", "--quiet", log])
        #expect(missing.status == 2 && missing.stderr.contains("no log_format json") && missing.stderr.contains("main"))
        let apache = try Self.file(
            "apache2.conf",
            Array(
                #"""
                LogFormat "%h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\"" combined
                LogFormat "%{X-Forwarded-For}i %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"" proxy
                """#.utf8))
        let proxied = try Self.generated("xff_combined", proxy: .balancer)
        let result = try Support.run([
            "--log-format-from", apache + ":proxy", "--real-ip", "X-Forwarded-For", "--quiet", "--summary", "-", proxied,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect((try Self.summary(result)["parsed"] as? Int) ?? 0 > 0)
    }

    @Test("Behind a CDN: the warning on standard error, in the report, the summary and the HTML page; none with --real-ip")
    func behindProxyWarning() throws {
        let log = try Self.generated("main", proxy: .cdn)
        let html = Support.temporaryDirectory().appendingPathComponent("report.html").path
        let result = try Support.run(["--summary", "-", "--html", html, log])
        #expect(result.status == 0)
        #expect(result.stderr.contains("logsurge: warning: clients_behind_proxy:") && result.stderr.contains("--real-ip X-Forwarded-For"))
        #expect(result.stderr.contains("Warnings:"))  // the report, on standard error as the summary took standard output
        let warnings = try Self.summary(result)["warnings"] as? [[String: Any]]
        #expect(warnings?.first?["code"] as? String == "clients_behind_proxy")
        let page = try String(contentsOfFile: html, encoding: .utf8)
        #expect(page.contains("id=\"warnings\"") && page.contains("clients_behind_proxy"))

        let fixed = try Support.run(["--real-ip", "X-Forwarded-For", "--quiet", "--summary", "-", log])
        #expect(fixed.status == 0 && !fixed.stderr.contains("warning"))
        #expect((try Self.summary(fixed)["warnings"] as? [Any])?.isEmpty == true)
    }

    @Test("--real-ip naming a header the format does not log says so")
    func realIPNotLogged() throws {
        let log = try Self.generated("combined")
        let result = try Support.run(["--real-ip", "X-Forwarded-For", "--quiet", log])
        #expect(result.status == 0)
        #expect(result.stderr.contains("real_ip_not_logged") && result.stderr.contains("combined"), "\(result.stderr)")
    }

    static let mainLine = #"81.2.69.142 - - [09/Nov/2016:02:31:05 +0000] "GET / HTTP/1.1" 200 5 "-" "curl" "-""#

    static func codes(_ result: Support.RunResult) throws -> [String] {
        (try summary(result)["warnings"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String }
    }

    @Test("A byte order mark (Windows tools, IIS) is not part of the first line")
    func byteOrderMark() throws {
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        let main = try Self.file("bom-main.log", bom + Array((Self.mainLine + "\n" + Self.mainLine + "\n").utf8))
        let result = try Support.run(["--quiet", "--summary", "-", main])
        #expect(result.status == 0, "\(result.stderr)")
        let summary = try Self.summary(result)
        #expect(summary["parsed"] as? Int == 2)
        #expect((summary["inputs"] as? [[String: Any]])?.first?["format"] as? String == "main")
        let iis = [
            "#Software: Microsoft Internet Information Services 10.0", "#Version: 1.0",
            "#Fields: date time c-ip cs-method cs-uri-stem sc-status", "2016-11-09 02:31:05 81.2.69.142 GET / 200",
        ]
        let w3c = try Self.file("bom-iis.log", bom + Array((iis.joined(separator: "\r\n") + "\r\n").utf8))
        let read = try Support.run(["--quiet", "--summary", "-", w3c])
        #expect(read.status == 0, "\(read.stderr)")
        #expect(try Self.summary(read)["parsed"] as? Int == 1)
        #expect(try Self.summary(read)["directive_lines"] as? Int == 3)
    }

    @Test("A log of W3C headers only is read as W3C: no lines, no error")
    func w3cHeadersOnly() throws {
        let headers = try Self.file(
            "u_ex161109.log",
            Array(
                "#Software: Microsoft Internet Information Services 10.0\r\n#Version: 1.0\r\n#Date: 2016-11-09 00:00:00\r\n#Fields: date time c-ip cs-method cs-uri-stem sc-status\r\n"
                    .utf8))
        let result = try Support.run(["--quiet", "--summary", "-", headers])
        #expect(result.status == 0, "\(result.stderr)")
        #expect((try Self.summary(result)["inputs"] as? [[String: Any]])?.first?["format"] as? String == "w3c")
    }

    @Test("Blank lines only are no error; nothing parsed shows the first line that did not")
    func blankAndSample() throws {
        let blank = try Self.file("blank.log", Array("\n\n\n".utf8))
        #expect(try Support.run(["--quiet", blank]).status == 0)
        let odd = try Self.file("odd.log", Array("\nthis is not a request\n".utf8))
        let result = try Support.run(["--quiet", odd])
        #expect(result.status == 1)
        #expect(result.stderr.contains(#"line 2 reads "this is not a request""#), "\(result.stderr)")
    }

    @Test("Lines of another format inside an input are named, with the format that reads them")
    func linesInAnotherFormat() throws {
        let json = #"{"remote_addr":"81.2.69.142","time":"2016-11-09T02:31:05Z","status":200}"#
        let mixed = try Self.file(
            "mixed.log", Array((Array(repeating: Self.mainLine, count: 5) + [json, json]).joined(separator: "\n").utf8) + [0x0A])
        let result = try Support.run(["--quiet", "--summary", "-", mixed])
        #expect(result.status == 0)
        #expect(try Self.codes(result) == ["lines_in_another_format"])
        #expect(result.stderr.contains("lines_in_another_format") && result.stderr.contains("--format json"), "\(result.stderr)")
        // Garbage is not another format: no such warning.
        let garbage = try Self.file(
            "garbage-in-main.log", Array((Array(repeating: Self.mainLine, count: 5) + ["garbage"]).joined(separator: "\n").utf8) + [0x0A])
        #expect(try Self.codes(try Support.run(["--quiet", "--summary", "-", garbage])).isEmpty)
    }

    @Test("JSON times without an offset are read as UTC, with a warning")
    func zonelessJSON() throws {
        let log = try Self.file(
            "zoneless.log", Array(#"{"remote_addr":"81.2.69.142","time":"2016-11-09T02:31:05","status":200}"#.utf8) + [0x0A])
        let result = try Support.run(["--quiet", "--summary", "-", log])
        #expect(result.status == 0)
        #expect(try Self.codes(result) == ["time_without_zone"])
        #expect(result.stderr.contains("1 requests had a time without a UTC offset"), "\(result.stderr)")
    }

    @Test("A country header is believed only from a trusted proxy; a visitor's own is not")
    func countryHeaderTrust() throws {
        let format =
            #"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_cf_ipcountry""#
        // 162.158.88.115 is a Cloudflare edge; 81.2.69.142 (GB) reached the server directly and says US.
        let lines = [
            #"162.158.88.115 - - [09/Nov/2016:02:31:05 +0000] "GET / HTTP/1.1" 200 5 "-" "curl" "FR""#,
            #"81.2.69.142 - - [09/Nov/2016:02:31:05 +0000] "GET / HTTP/1.1" 200 5 "-" "curl" "US""#,
        ]
        let log = try Self.file("country.log", Array(lines.joined(separator: "\n").utf8) + [0x0A])
        let result = try Support.run(["--log-format", format, "--country-from", "CF-IPCountry", "--quiet", "--buckets", "-", log])
        #expect(result.status == 0, "\(result.stderr)")
        let countries = result.stdout.split(separator: "\n").dropFirst().map { $0.split(separator: ",")[2] }
        #expect(countries.sorted() == ["FR", "GB"], "\(result.stdout)")
        // --trusted-proxy says whose word counts: trusting nobody but 10.0.0.0/8, the database decides both.
        let strict = try Support.run([
            "--log-format", format, "--country-from", "CF-IPCountry", "--trusted-proxy", "10.0.0.0/8", "--quiet", "--summary", "-", log,
        ])
        #expect((try Self.summary(strict)["clients"] as? [String: Int])?["country_header"] == 0)
    }

    @Test("A header one CDN sets is believed only from that CDN's edges, not from any CDN")
    func vendorHeaders() throws {
        let format =
            #"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_user_agent" "$http_cf_ipcountry" "$http_cf_connecting_ip""#
        // 162.158.88.115 is Cloudflare; 13.32.0.1 is CloudFront, which anyone can put in front
        // of the origin and have it send Cloudflare's headers.
        let lines = [
            #"162.158.88.115 - - [09/Nov/2016:02:31:05 +0000] "GET / HTTP/1.1" 200 5 "curl" "FR" "81.2.69.142""#,
            #"13.32.0.1 - - [09/Nov/2016:02:31:05 +0000] "GET / HTTP/1.1" 200 5 "curl" "FR" "81.2.69.142""#,
        ]
        let log = try Self.file("vendor.log", Array(lines.joined(separator: "\n").utf8) + [0x0A])
        let country = try Support.run(["--log-format", format, "--country-from", "CF-IPCountry", "--quiet", "--buckets", "-", log])
        #expect(
            country.stdout.split(separator: "\n").dropFirst().map { $0.split(separator: ",")[2] }.sorted() == ["FR", "US"],
            "\(country.stdout)")
        let client = try Support.run(["--log-format", format, "--real-ip", "CF-Connecting-IP", "--quiet", "--summary", "-", log])
        #expect((try Self.summary(client)["clients"] as? [String: Int])?["forwarded"] == 1, "\(client.stdout)")
        // Naming the proxies says whose word counts.
        let named = try Support.run([
            "--log-format", format, "--country-from", "CF-IPCountry", "--trusted-proxy", "cdn", "--quiet", "--buckets", "-", log,
        ])
        #expect(named.stdout.split(separator: "\n").dropFirst().map { $0.split(separator: ",")[2] } == ["FR"], "\(named.stdout)")
    }

    @Test("--real-ip whose header comes from proxies that are not trusted says so")
    func untrustedBalancer() throws {
        // A Google load balancer (35.191.0.0/16, not an embedded CDN) in front of nginx.
        let lines = (0..<4).map {
            #"35.191.10.\#($0) - - [09/Nov/2016:02:31:05 +0000] "GET / HTTP/1.1" 200 5 "-" "curl" "81.2.69.142, 34.120.1.1""#
        }
        let log = try Self.file("gcp.log", Array(lines.joined(separator: "\n").utf8) + [0x0A])
        let result = try Support.run(["--format", "main", "--real-ip", "X-Forwarded-For", "--quiet", "--summary", "-", log])
        #expect(try Self.codes(result) == ["real_ip_untrusted"], "\(result.stderr)")
        #expect(result.stderr.contains("35.191.10.0") && result.stderr.contains("--trusted-proxy"), "\(result.stderr)")
        let trusted = try Support.run([
            "--format", "main", "--real-ip", "X-Forwarded-For", "--trusted-proxy", "35.191.0.0/16",
            "--trusted-proxy", "34.120.0.0/16", "--quiet", "--buckets", "-", log,
        ])
        #expect(trusted.stdout.contains(",GB,4,"), "\(trusted.stdout)")
        #expect(!trusted.stderr.contains("real_ip_untrusted"))
    }

    @Test("A combined log's lines whose client is a chain are Apache proxy lines, read as xff_combined")
    func chainLinesInCombined() throws {
        // 250 direct lines decide the format; then visitors who sent their own X-Forwarded-For.
        let direct = (0..<250).map { _ in #"85.214.132.117 - - [09/Nov/2016:02:31:05 +0000] "GET / HTTP/1.1" 200 5 "-" "curl""# }
        let chained = (0..<50).map { _ in #"1.2.3.4, 81.2.69.142 - - [09/Nov/2016:02:32:05 +0000] "GET / HTTP/1.1" 200 5 "-" "curl""# }
        let log = try Self.file("xff-late.log", Array((direct + chained).joined(separator: "\n").utf8) + [0x0A])
        let result = try Support.run(["--quiet", "--summary", "-", "--buckets", log + ".csv", log])
        let summary = try Self.summary(result)
        #expect((summary["parsed"] as? Int) == 300, "\(result.stdout)")
        let buckets = try String(contentsOfFile: log + ".csv", encoding: .utf8)
        // The visitor's address the balancer appended (GB), not the forged leftmost entry.
        #expect(buckets.contains("2016-11-09T02:32Z,-,GB,50,"), "\(buckets)")
    }

    @Test("--real-ip that leaves the clients at the proxies says so")
    func stillBehindProxy() throws {
        // A CDN log whose X-Forwarded-For the server never received ("-").
        let log = try Self.generated("main", proxy: .cdn)
        let text = try String(contentsOfFile: log, encoding: .utf8)
        let emptied =
            text.split(separator: "\n").map { line -> String in
                guard let last = line.range(of: " \"", options: .backwards) else { return String(line) }
                return line[..<last.lowerBound] + #" "-""#
            }.joined(separator: "\n") + "\n"
        let path = try Self.file("no-xff.log", Array(emptied.utf8))
        let result = try Support.run(["--real-ip", "X-Forwarded-For", "--quiet", "--summary", "-", path])
        #expect(result.status == 0)
        #expect(try Self.codes(result) == ["clients_still_behind_proxy"], "\(result.stderr)")
        #expect(result.stderr.contains("--trusted-proxy"))
        let clients = try Self.summary(result)["clients"] as? [String: Int]
        #expect(clients?["still_behind_proxy"] ?? 0 > 0)
        // With the header there, no such warning.
        #expect(try Self.codes(try Support.run(["--real-ip", "X-Forwarded-For", "--quiet", "--summary", "-", log])).isEmpty)
    }

    @Test("xff_combined with --real-ip naming another header keeps its X-Forwarded-For client")
    func impliedChainKept() throws {
        let log = try Self.generated("xff_combined", proxy: .balancer)
        let plain = try Support.run(["--quiet", "--buckets", "-", log])
        let other = try Support.run(["--real-ip", "CF-Connecting-IP", "--quiet", "--buckets", "-", log])
        #expect(other.status == 0)
        #expect(other.stdout == plain.stdout)
        #expect(other.stderr.contains("real_ip_not_logged") && other.stderr.contains("X-Forwarded-For chain"), "\(other.stderr)")
    }

    @Test("A client logged with its port (Traefik, Caddy 2.4) is still an address")
    func clientWithPort() throws {
        let lines = [
            #"{"ClientHost":"81.2.69.142:41342","time":"2016-11-09T02:31:05Z","status":200}"#,
            #"{"ClientHost":"[2001:db8::1]:443","time":"2016-11-09T02:31:05Z","status":200}"#,
        ]
        let log = try Self.file("ports.log", Array(lines.joined(separator: "\n").utf8) + [0x0A])
        let result = try Support.run(["--quiet", "--buckets", "-", log])
        #expect(result.stdout.contains(",GB,"), "\(result.stdout)")
    }

    @Test("--version names each embedded CDN's list and its date")
    func version() throws {
        let result = try Support.run(["--version"])
        for provider in ["cloudflare", "cloudfront", "fastly"] { #expect(result.stdout.contains(provider)) }
        #expect(result.stdout.contains("published 20"))
    }
}
