import Foundation
import LogSurgePipelineTestSupport
import LogSurge
import LogSurgeParse
import Testing
import LogSurgeGenerate

/// The same requests written in every format a server may write give the same buckets, byte
/// for byte, at every thread count and chunk size; behind a proxy or a CDN too, once
/// `--real-ip` or `--country-from` says where the visitor is.
@Suite("The same requests in every format")
struct FormatEquivalenceTests {
    static let seed: UInt64 = 11

    /// A log of the same requests in `layout`, written to a file; its path.
    static func write(_ layout: GeneratedLayout, proxy: ProxySetup = .none, gzip: Bool = false) throws -> String {
        let log = Support.generatedLog(minutes: 90, rate: 120, seed: seed, malformedRate: 0.002, layout: layout, proxy: proxy)
        let path = Support.temporaryDirectory().appendingPathComponent(gzip ? "access.log.gz" : "access.log").path
        try Support.writeFile(path, Data(gzip ? Support.gzip(log) : log))
        return path
    }

    /// The buckets of a run, as the CSV a user gets.
    static func buckets(
        _ path: String, format: AnalyzeConfiguration.FormatChoice = .auto, headers: HeaderRoles = HeaderRoles(),
        threads: Int = 2, chunkSize: Int = 2 << 20
    ) throws -> (csv: String, analysis: Analysis) {
        let analysis = Support.analyze([path]) {
            $0.lines.format = format
            $0.lines.headers = headers
            $0.reading.threads = threads
            $0.reading.chunkSize = chunkSize
            $0.reading.minimumRangeSize = min(chunkSize, 64 << 10)
        }
        Support.expectInvariants(analysis)
        #expect(analysis.inputErrors.isEmpty, "\(analysis.inputErrors)")
        return (try Support.bucketsCSV(analysis), analysis)
    }

    /// The reference: the requests written as combined (no site) or vhost_combined (with one).
    static let references: [Bool: String] = {
        var out: [Bool: String] = [:]
        for withHost in [false, true] {
            let path = try! write(.builtin(withHost ? .vhostCombined : .combined))
            out[withHost] = try! buckets(path).csv
        }
        return out
    }()

    static let forwarded = HeaderRoles(forwarded: HeaderName("X-Forwarded-For"))

    /// Each named format: detected by itself, read with its name, any thread count and chunk size.
    @Test(
        "Each named format gives the buckets of the combined log",
        arguments: [
            ("common", false), ("vhost_common", true), ("main", false), ("xff_combined", false), ("json", true),
            ("caddy", true), ("alb", true), ("w3c", true), ("cloudfront", true),
        ])
    func namedFormat(_ name: String, _ withHost: Bool) throws {
        let layout = try #require(GeneratedLayout.named.first { $0.name == name }).layout
        let path = try Self.write(layout)
        let readAs = name == "cloudfront" ? "w3c" : name
        let detected = try Self.buckets(path)
        #expect(detected.csv == Self.references[withHost], "\(name), detected")
        // A one-address X-Forwarded-For first is combined too; otherwise the format is recognised.
        #expect(detected.analysis.inputs.first?.format?.name == (name == "xff_combined" ? "combined" : readAs))
        for (threads, chunkSize) in [(1, 2 << 20), (2, 4096), (3, 777)] {
            let named = try Self.buckets(
                path, format: .fixed(try #require(LineFormat.named(readAs))), threads: threads, chunkSize: chunkSize)
            #expect(named.csv == Self.references[withHost], "\(name), \(threads) threads, chunks of \(chunkSize)")
        }
        let compressed = try Self.write(layout, gzip: true)
        #expect(try Self.buckets(compressed, chunkSize: 3000).csv == Self.references[withHost], "\(name), gzip")
    }

    static let formatStrings: [(name: String, string: String, withHost: Bool, realIP: Bool)] = [
        ("nginx main", GeneratedLayout.mainString, false, false),
        (
            "nginx $time_iso8601 and $request_time between fields",
            #"$remote_addr - $remote_user [$time_iso8601] $request_time "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $upstream_response_time"#,
            false, false
        ),
        ("nginx escape=json template", GeneratedLayout.jsonTemplate, true, false),
        ("Apache %{X-Forwarded-For}i first", GeneratedLayout.xffCombinedString, false, true),
        ("Apache with %D and %{Host}i", #"%{Host}i %a %l %u %t \"%r\" %>s %b %D \"%{Referer}i\" \"%{User-Agent}i\""#, true, false),
        (
            "nginx vhost first",
            #"$host:$server_port $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent""#,
            true, false
        ),
        (
            "nginx $msec, configuration quoting",
            #"log_format timed '$remote_addr $msec "$request" ' '$status $bytes_sent $body_bytes_sent';"#, false, false
        ),
        ("Apache strftime pieces", #"%h %l %u [%{%d/%b/%Y %T}t.%{msec_frac}t %{%z}t] \"%r\" %>s %b"#, false, false),
    ]

    @Test("Each --log-format string gives the buckets of the combined log", arguments: formatStrings.indices)
    func formatString(_ index: Int) throws {
        let (name, string, withHost, realIP) = Self.formatStrings[index]
        let path = try Self.write(.formatString(string))
        let format = try LineFormat.compile(string, clientHeaders: realIP ? ["x_forwarded_for"] : [])
        for (threads, chunkSize) in [(1, 2 << 20), (2, 5000)] {
            let read = try Self.buckets(
                path, format: .fixed(format), headers: realIP ? Self.forwarded : HeaderRoles(),
                threads: threads, chunkSize: chunkSize)
            #expect(read.csv == Self.references[withHost], "\(name), \(threads) threads")
        }
    }

    @Test(
        "Behind a CDN or a balancer: --real-ip gives the visitors' buckets; without it, a warning",
        arguments: [
            ("main", false), ("json", true), ("caddy", true), ("xff_combined", false), ("w3c", true),
        ])
    func behindProxies(_ name: String, _ withHost: Bool) throws {
        let layout = try #require(GeneratedLayout.named.first { $0.name == name }).layout
        for proxy in [ProxySetup.cdn, .balancer] {
            let path = try Self.write(layout, proxy: proxy)
            let real = try Self.buckets(path, headers: Self.forwarded)
            #expect(real.csv == Self.references[withHost], "\(name) behind \(proxy)")
            #expect(
                real.analysis.accounting.clients[.forwarded] == real.analysis.accounting.parsed
                    - real.analysis.accounting.clients[.connecting])
            #expect(real.analysis.warnings.isEmpty)
            if name != "xff_combined" {
                // Without --real-ip: the proxies' countries, and a warning that names the fix.
                let plain = try Self.buckets(path)
                #expect(plain.csv != Self.references[withHost])
                let warning = plain.analysis.warnings.first { $0.code == .clientsBehindProxy }
                #expect(warning?.message.contains("--real-ip X-Forwarded-For") == true, "\(plain.analysis.warnings)")
            }
        }
    }

    @Test("A CDN's country header gives the visitors' countries", arguments: ["json", "caddy"])
    func countryHeader(_ name: String) throws {
        let layout = try #require(GeneratedLayout.named.first { $0.name == name }).layout
        // Every visitor with a country (no scanner from a documentation range), as the header states.
        let log = Support.generatedLog(minutes: 90, rate: 120, seed: Self.seed, malformedRate: 0, layout: layout, proxy: .cdn)
        let path = Support.temporaryDirectory().appendingPathComponent("cdn.log").path
        try Support.writeFile(path, Data(log))
        let direct = Support.generatedLog(minutes: 90, rate: 120, seed: Self.seed, malformedRate: 0, layout: .builtin(.vhostCombined))
        let directPath = Support.temporaryDirectory().appendingPathComponent("direct.log").path
        try Support.writeFile(directPath, Data(direct))
        let reference = try Self.buckets(directPath).csv
        let read = try Self.buckets(path, headers: HeaderRoles(country: HeaderName("CF-IPCountry")))
        // The countries and counts are the visitors'; the clients are the CDN's edges (no
        // --real-ip here), so the `clients` column is left out of the comparison.
        func withoutClients(_ csv: String) -> String {
            csv.split(separator: "\n").map { $0[..<($0.lastIndex(of: ",") ?? $0.endIndex)] }.joined(separator: "\n")
        }
        #expect(withoutClients(read.csv) == withoutClients(reference))
        #expect(read.analysis.accounting.clients.countryHeader == read.analysis.accounting.parsed)
        // The countries are right; the clients are the edges, and the warning says how to fix that.
        #expect(read.analysis.warnings.map(\.code) == [.clientsAreProxies], "\(read.analysis.warnings)")
        // Without it, the edges' countries, and the warning names both fixes.
        let plain = try Self.buckets(path)
        #expect(plain.csv != reference)
        #expect(plain.analysis.warnings.first?.message.contains("--real-ip X-Forwarded-For") == true)
    }
}
