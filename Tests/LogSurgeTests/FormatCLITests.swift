import Foundation
import LogSurge
import LogSurgeParse
import Testing

/// The formats, real clients and countries of the contract, on the built executable: exit
/// statuses, messages and warnings.
@Suite(.enabled(if: Support.executable != nil, "the logsurge executable is not built"))
struct FormatCLITests {
    static func file(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = Support.temporaryDirectory().appendingPathComponent(name).path
        try Support.writeFile(path, Data(bytes))
        return path
    }

    static func generated(_ format: String, proxy: ProxySetup = .none, minutes: Int = 30) throws -> String {
        let layout = GeneratedLayout.named.first { $0.name == format }!.layout
        return try file("\(format).log", Support.generatedLog(minutes: minutes, rate: 60, seed: 3, malformedRate: 0, layout: layout, proxy: proxy))
    }

    static func summary(_ result: Support.RunResult) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] ?? [:]
    }

    @Test("An input none of whose lines parse is an input error naming the format tried and the one that fits")
    func nothingParsed() throws {
        let json = try Self.generated("json")
        let result = try Support.run(["--format", "combined", "--quiet", "--summary", "-", json])
        #expect(result.status == 1)
        #expect(result.stderr.contains(json) && result.stderr.contains("parsed as combined") && result.stderr.contains("use --format json"),
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

    @Test("Format strings and options that cannot work are usage errors (2) naming what is wrong", arguments: [
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
        let nginx = try Self.file("nginx.conf", Array("""
            http {
                log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                                  '$status $body_bytes_sent "$http_referer" '
                                  '"$http_user_agent" "$http_x_forwarded_for"';
                access_log /var/log/nginx/access.log main;
            }
            """.utf8))
        for configuration in [nginx, nginx + ":main"] {
            let result = try Support.run(["--log-format-from", configuration, "--real-ip", "X-Forwarded-For", "--quiet", "--summary", "-", log])
            #expect(result.status == 0, "\(result.stderr)")
            let clients = try Self.summary(result)["clients"] as? [String: Int]
            #expect(clients?["forwarded"] ?? 0 > 0 && clients?["connecting"] == 0)
        }
        let missing = try Support.run(["--log-format-from", nginx + ":json", "--quiet", log])
        #expect(missing.status == 2 && missing.stderr.contains("no log_format json") && missing.stderr.contains("main"))
        let apache = try Self.file("apache2.conf", Array(#"""
            LogFormat "%h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\"" combined
            LogFormat "%{X-Forwarded-For}i %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"" proxy
            """#.utf8))
        let proxied = try Self.generated("xff_combined", proxy: .balancer)
        let result = try Support.run(["--log-format-from", apache + ":proxy", "--real-ip", "X-Forwarded-For", "--quiet", "--summary", "-", proxied])
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

    @Test("--version names each embedded CDN's list and its date")
    func version() throws {
        let result = try Support.run(["--version"])
        for provider in ["cloudflare", "cloudfront", "fastly"] { #expect(result.stdout.contains(provider)) }
        #expect(result.stdout.contains("published 20"))
    }
}
